// The Models page's charts (Chart.js): the confusion matrix as stacked bars (for each true
// class, how its test images were predicted) and the loss and accuracy curves per epoch,
// training against validation. The data comes from the page's json_script "model-charts".
(() => {
  "use strict";
  const source = document.getElementById("model-charts");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.documentElement);
  const muted = style.getPropertyValue("--bs-secondary-color").trim() || "#6c757d";
  const grid = style.getPropertyValue("--bs-border-color-translucent").trim() || "#dee2e6";
  const TRAIN = "#0d6efd";
  const TRAIN_BAND = "rgba(13, 110, 253, 0.45)";
  const VALIDATION = "#fd7e14";
  Chart.defaults.font.size = 12;
  Chart.defaults.color = muted;
  Chart.defaults.maintainAspectRatio = false;

  const confusion = document.getElementById("confusion-chart");
  if (confusion && data.confusion_matrix.length) {
    new Chart(confusion, {
      type: "bar",
      data: {
        labels: data.classes.map((name) => `true ${name}`),
        datasets: data.classes.map((predicted, column) => ({
          label: `predicted ${predicted}`,
          data: data.confusion_matrix.map((row) => row[column]),
          backgroundColor: data.colors[column],
          borderColor: "#fff",
          borderWidth: 1,
        })),
      },
      options: {
        indexAxis: "y",
        scales: {
          x: { stacked: true, beginAtZero: true, title: { display: true, text: "test images" },
               ticks: { precision: 0 }, grid: { color: grid } },
          y: { stacked: true, grid: { display: false } },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: (item) => ` ${item.dataset.label}: ${item.formattedValue}`,
            },
          },
        },
      },
    });
  }

  // A dashed vertical line at the epoch whose weights early stopping kept.
  const bestEpochLine = {
    id: "bestEpochLine",
    afterDatasetsDraw(chart) {
      if (!data.best_epoch) return;
      const x = chart.scales.x.getPixelForValue(data.best_epoch - 1);
      const { top, bottom } = chart.chartArea;
      const context = chart.ctx;
      context.save();
      context.strokeStyle = muted;
      context.setLineDash([4, 4]);
      context.beginPath();
      context.moveTo(x, top);
      context.lineTo(x, bottom);
      context.stroke();
      context.fillStyle = muted;
      context.textAlign = x > (chart.chartArea.left + chart.chartArea.right) / 2 ? "right" : "left";
      context.fillText(" best ", x, top + 10);
      context.restore();
    },
  };

  function curves(canvas, trainKey, validationKey, yTitle, percent) {
    const element = document.getElementById(canvas);
    if (!element || !data.epochs.length) return;
    const series = (key) => data.history[key].map((value) => (percent ? value * 100 : value));
    // Accuracy on a whole-ten scale up to 100%, from the decade below the lowest value.
    const lowest = Math.min(...series(trainKey), ...series(validationKey));
    const percentScale = { min: Math.max(0, Math.floor(lowest / 10) * 10), max: 100,
                           ticks: { stepSize: 10, callback: (value) => `${value}%` } };
    new Chart(element, {
      type: "line",
      data: {
        labels: data.epochs,
        // Training and validation often coincide (both at 100% accuracy): training is a wide,
        // pale band drawn first, validation a narrow dashed line drawn over it (a lower
        // `order` is drawn on top), so both stay visible where they overlap.
        datasets: [
          { label: "training", data: series(trainKey), borderColor: TRAIN_BAND,
            backgroundColor: TRAIN, pointRadius: 0, borderWidth: 6, tension: 0.2, order: 1 },
          { label: "validation", data: series(validationKey), borderColor: VALIDATION,
            backgroundColor: VALIDATION, pointRadius: 0, borderWidth: 2, tension: 0.2,
            borderDash: [6, 3], order: 0 },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { title: { display: true, text: "epoch" }, grid: { color: grid },
               ticks: { maxTicksLimit: 10 } },
          y: { title: { display: true, text: yTitle }, grid: { color: grid },
               ...(percent ? percentScale : { beginAtZero: true }) },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: (items) => `epoch ${items[0].label}`,
              label: (item) => ` ${item.dataset.label}: ${percent
                ? item.parsed.y.toFixed(1) + "%" : item.parsed.y.toFixed(4)}`,
            },
          },
        },
      },
      plugins: [bestEpochLine],
    });
  }

  curves("loss-chart", "loss", "val_loss", "loss", false);
  curves("accuracy-chart", "accuracy", "val_accuracy", "accuracy", true);
})();
