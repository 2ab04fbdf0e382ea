// The data-health pages. On the health page: the class balance per split as stacked bars
// (Chart.js; data from the json_script "balance-data"). On the review queue: the keys that
// answer the card shown (K keeps the label, R takes the suggestion, 1-9 relabel).
(() => {
  "use strict";
  const source = document.getElementById("balance-data");
  const canvas = document.getElementById("balance-chart");
  if (source && canvas && window.Chart) {
    const data = JSON.parse(source.textContent);
    Chart.defaults.maintainAspectRatio = false;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.splits,
        datasets: data.classes.map((item) => ({
          label: item.name,
          data: item.counts,
          backgroundColor: item.color,
        })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    });
  }

  const card = document.getElementById("label-error-card");
  if (!card) return;
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select")) return;
    const key = event.key.toLowerCase();
    let button = null;
    if (key === "k") button = document.getElementById("keep-button");
    else if (key === "r") button = document.getElementById("accept-suggestion-button");
    else button = card.querySelector(`button[data-key="${CSS.escape(key)}"]`);
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
})();
