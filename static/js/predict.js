// The "Try the model" page: photos dropped (or chosen) go to the API's prediction endpoint
// a few at a time, as an ad-hoc prediction job; the page follows each job (the API waits
// for it up to a few seconds per request) and fills in each photo's card as results come.
(() => {
  "use strict";
  const form = document.getElementById("predict-form");
  const dropzone = document.getElementById("dropzone");
  const input = document.getElementById("predict-files");
  const cards = document.getElementById("predictions");
  const template = document.getElementById("prediction-card");
  const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const colors = JSON.parse(document.getElementById("class-colors").textContent);
  const BATCH = 8;
  const WAIT_SECONDS = 10;
  const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

  function addCard(file) {
    const card = template.content.firstElementChild.cloneNode(true);
    const image = card.querySelector("img");
    image.src = URL.createObjectURL(file);
    image.alt = file.name;
    card.querySelector(".prediction-name").textContent = file.name;
    cards.prepend(card);
    return card;
  }

  function showError(card, message) {
    const status = card.querySelector(".prediction-status");
    status.className = "prediction-status small text-danger";
    status.textContent = message;
  }

  function showResult(card, result) {
    card.querySelector(".prediction-status").classList.add("d-none");
    card.querySelector(".prediction-result").classList.remove("d-none");
    const label = card.querySelector(".prediction-label");
    label.textContent = result.label;
    label.style.backgroundColor = colors[result.label] || "#6c757d";
    card.querySelector(".prediction-confidence").textContent = `${Math.round(result.confidence * 100)}%`;
    const list = card.querySelector(".prediction-probabilities");
    Object.entries(result.probabilities)
      .sort((a, b) => b[1] - a[1])
      .forEach(([name, probability]) => {
        const row = document.createElement("div");
        row.className = "d-flex align-items-center gap-2";
        const text = document.createElement("span");
        text.className = "text-truncate";
        text.style.width = "8rem";
        text.textContent = name;
        const bar = document.createElement("div");
        bar.className = "progress flex-grow-1";
        bar.style.height = ".5rem";
        const fill = document.createElement("div");
        fill.className = "progress-bar";
        fill.style.width = `${(probability * 100).toFixed(1)}%`;
        fill.style.backgroundColor = colors[name] || "#6c757d";
        bar.appendChild(fill);
        const percent = document.createElement("span");
        percent.className = "text-body-secondary";
        percent.textContent = `${(probability * 100).toFixed(1)}%`;
        row.append(text, bar, percent);
        list.appendChild(row);
      });
  }

  async function answer(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok) {
      const detail = body && body.detail;
      const why = typeof detail === "string" ? detail : `the server answered ${response.status}`;
      const error = new Error(why);
      error.refused = response.status === 400;
      throw error;
    }
    return body;
  }

  async function predict(files, batchCards) {
    const data = new FormData();
    files.forEach((file) => data.append("files", file, file.name));
    try {
      let job = await fetch(form.dataset.createUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
      }).then(answer, () => { throw new Error("The server could not be reached; check your connection and try again."); });
      const jobUrl = form.dataset.jobUrl.replace(/\/0\/$/, `/${job.id}/`);
      while (!FINISHED.has(job.status)) {
        if (job.note) batchCards.forEach((card) => { card.querySelector(".prediction-status").lastChild.textContent = ` ${job.note}`; });
        const response = await fetch(`${jobUrl}?wait=${WAIT_SECONDS}`, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .catch(() => { throw new Error("The server could not be reached; check your connection and try again."); });
        if (response.status === 429) {
          // The server lends few threads to waiting (another batch of this page waits):
          // ask again when it says.
          const seconds = Number(response.headers.get("Retry-After")) || 3;
          await new Promise((resolve) => { setTimeout(resolve, seconds * 1000); });
          continue;
        }
        job = await answer(response);
      }
      if (job.status !== "succeeded") {
        throw new Error(job.error || `The prediction was ${job.status}.`);
      }
      batchCards.forEach((card, index) => showResult(card, job.results[index]));
    } catch (error) {
      if (error.refused && files.length > 1) {
        // One file the server refuses (not an image, too large) refuses its whole batch:
        // send them one by one, so only that one says why.
        files.forEach((file, index) => predict([file], [batchCards[index]]));
      } else {
        batchCards.forEach((card) => showError(card, error.message));
      }
    }
  }

  function take(fileList) {
    const files = [...fileList];
    for (let start = 0; start < files.length; start += BATCH) {
      const batch = files.slice(start, start + BATCH);
      predict(batch, batch.map(addCard));
    }
  }

  input.addEventListener("change", () => { take(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((name) => dropzone.addEventListener(name, (event) => {
    event.preventDefault();
    dropzone.classList.add("dragover");
  }));
  ["dragleave", "drop"].forEach((name) => dropzone.addEventListener(name, () => dropzone.classList.remove("dragover")));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    take(event.dataTransfer.files);
  });
})();
