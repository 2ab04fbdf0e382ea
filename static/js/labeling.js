// The labeling page. Speed is the point: the next images are fetched and decoded ahead of
// time, a key press shows the next one at once, and the label is saved in the background.
// Writes go to the server one after the other, in the order they were made, so an undo
// always follows the label it takes back.
(() => {
  "use strict";
  const state = JSON.parse(document.getElementById("labeling-state").textContent);
  const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const el = (id) => document.getElementById(id);
  // Ask the server for more when fewer than this many images wait behind the one on screen.
  const PREFETCH = 3;
  const HISTORY = 50;

  const classesByKey = new Map(state.classes.map((c) => [c.key.toLowerCase(), c]));
  const queue = []; // upcoming images, preloading
  let current = null; // the image on screen
  const history = []; // [{kind: "label" | "skip", image, labelClass}], newest last
  const inFlight = new Map(); // image id -> writes on their way
  let writes = Promise.resolve();
  let refilling = null;
  let labeledHere = 0;
  // Timings the browser tests and bench/labeling_round_trip.py read.
  const metrics = (window.labelingMetrics = { shown: [], request: [], server: [] });

  function prepare(image) {
    if (!image.element) {
      const img = new Image();
      img.className = "label-image";
      img.alt = image.original_name;
      img.dataset.imageId = image.id;
      img.src = image.url;
      image.element = img;
      image.ready = img.decode().catch(() => undefined);
    }
    return image;
  }

  function heldIds() {
    return [current && current.id, ...queue.map((image) => image.id), ...inFlight.keys()].filter(Boolean);
  }

  function refill() {
    if (!refilling) {
      const url = `${state.urls.queue}?exclude=${heldIds().join(",")}`;
      refilling = fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
        .then((body) => {
          const held = new Set(heldIds());
          body.queue.filter((image) => !held.has(image.id)).forEach((image) => queue.push(prepare(image)));
          showProgress(body.progress);
        })
        .catch((error) => showError(`Could not load more images (${error.message}).`))
        .finally(() => {
          refilling = null;
        });
    }
    return refilling;
  }

  function setLoading(loading) {
    el("loading").classList.toggle("d-none", !loading);
  }

  function setButtonsEnabled(enabled) {
    document.querySelectorAll(".class-button, #skip").forEach((button) => {
      button.disabled = !enabled;
    });
  }

  function show(image, startedAt) {
    current = image;
    el("queue-reason").textContent = image && image.queue_reason ? `Why this one: ${image.queue_reason}` : "";
    el("empty").classList.add("d-none");
    if (!image) {
      el("frame").replaceChildren();
      el("empty").classList.remove("d-none");
      el("image-name").textContent = "";
      el("image-split").textContent = "";
      el("image-detail").classList.add("d-none");
      setLoading(false);
      setButtonsEnabled(false);
      return;
    }
    setButtonsEnabled(true);
    prepare(image);
    setLoading(true);
    image.ready.then(() => {
      if (current !== image) return;
      el("frame").replaceChildren(image.element);
      setLoading(false);
      el("image-name").textContent = image.original_name;
      el("image-split").textContent = image.split;
      el("image-detail").href = image.page_url;
      el("image-detail").classList.remove("d-none");
      document.body.dataset.currentImage = image.id;
      if (startedAt !== undefined) {
        // The second frame callback runs once the new image has been painted.
        requestAnimationFrame(() => requestAnimationFrame(() => metrics.shown.push(performance.now() - startedAt)));
      }
    });
    queue.forEach(prepare);
    if (queue.length < PREFETCH) refill();
  }

  function advance(startedAt) {
    if (queue.length) {
      show(queue.shift(), startedAt);
      return;
    }
    current = null;
    el("frame").replaceChildren();
    setLoading(true);
    setButtonsEnabled(false);
    // No need to wait for the writes: the images they concern are left out as held ones.
    refill().then(() => {
      if (current === null) show(queue.shift() || null, startedAt);
    });
  }

  function showProgress(progress) {
    for (const [split, counts] of Object.entries(progress || {})) {
      const box = document.querySelector(`[data-split-progress="${split}"]`);
      if (!box) continue;
      box.querySelector("[data-labeled]").textContent = counts.labeled;
      box.querySelector("[data-total]").textContent = counts.total;
      box.querySelector(".progress-bar").style.width = `${counts.total ? (100 * counts.labeled) / counts.total : 0}%`;
    }
  }

  function showError(message) {
    const box = el("error");
    box.textContent = message;
    box.classList.remove("d-none");
  }

  function say(message) {
    el("last-action").textContent = message;
    el("session-count").textContent = labeledHere;
  }

  function post(url, body) {
    const started = performance.now();
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify(body),
    }).then(async (response) => {
      metrics.request.push(performance.now() - started);
      const timing = /dur=([\d.]+)/.exec(response.headers.get("Server-Timing") || "");
      if (timing) metrics.server.push(parseFloat(timing[1]));
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(data.detail || `HTTP ${response.status}`);
      return data;
    });
  }

  function write(image, url, body, onError) {
    inFlight.set(image.id, (inFlight.get(image.id) || 0) + 1);
    writes = writes
      .then(() => post(url, body))
      .then((data) => showProgress(data.progress), onError)
      .finally(() => {
        const left = inFlight.get(image.id) - 1;
        if (left) inFlight.set(image.id, left);
        else inFlight.delete(image.id);
      });
  }

  function remember(entry) {
    history.push(entry);
    if (history.length > HISTORY) history.shift();
  }

  function flash(button) {
    if (!button) return;
    button.classList.add("picked");
    setTimeout(() => button.classList.remove("picked"), 150);
  }

  function label(labelClass, startedAt) {
    if (!current) return;
    const image = current;
    const entry = { kind: "label", image, labelClass };
    remember(entry);
    labeledHere += 1;
    say(`${image.original_name} → ${labelClass.name}`);
    flash(document.querySelector(`.class-button[data-class="${labelClass.id}"]`));
    write(image, state.urls.annotate, { image: image.id, label_class: labelClass.id }, (error) => {
      showError(`The label for ${image.original_name} was not saved: ${error.message}. It is back in the queue.`);
      const index = history.indexOf(entry);
      if (index >= 0) history.splice(index, 1);
      labeledHere -= 1;
      say("");
      queue.unshift(image);
    });
    advance(startedAt);
  }

  function skip(startedAt) {
    if (!current) return;
    const image = current;
    remember({ kind: "skip", image });
    say(`${image.original_name} skipped`);
    write(image, state.urls.skip, { image: image.id, skip: true }, (error) => showError(`Skip not saved: ${error.message}`));
    advance(startedAt);
  }

  function undo(startedAt) {
    const entry = history.pop();
    if (!entry) {
      say("Nothing to undo.");
      return;
    }
    if (current) queue.unshift(current);
    if (entry.kind === "label") {
      labeledHere -= 1;
      say(`Undone: ${entry.image.original_name} is unlabeled again`);
      write(entry.image, state.urls.undo, { image: entry.image.id }, (error) => showError(`Undo not saved: ${error.message}`));
    } else {
      say(`Back to ${entry.image.original_name}`);
      write(entry.image, state.urls.skip, { image: entry.image.id, skip: false }, (error) => showError(`Undo not saved: ${error.message}`));
    }
    show(entry.image, startedAt);
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing || event.repeat) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key.toLowerCase();
    const startedAt = event.timeStamp;
    if (classesByKey.has(key)) {
      event.preventDefault();
      label(classesByKey.get(key), startedAt);
    } else if (key === "s") {
      event.preventDefault();
      skip(startedAt);
    } else if (key === "z" || key === "backspace") {
      event.preventDefault();
      undo(startedAt);
    }
  });

  document.getElementById("class-buttons").addEventListener("click", (event) => {
    const button = event.target.closest(".class-button");
    if (!button) return;
    const labelClass = state.classes.find((c) => String(c.id) === button.dataset.class);
    label(labelClass, event.timeStamp);
    button.blur();
  });
  el("skip").addEventListener("click", (event) => {
    skip(event.timeStamp);
    event.currentTarget.blur();
  });
  el("undo").addEventListener("click", (event) => {
    undo(event.timeStamp);
    event.currentTarget.blur();
  });

  state.queue.forEach((image) => queue.push(prepare(image)));
  show(queue.shift() || null);
})();
