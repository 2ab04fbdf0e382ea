// The labeling page. Speed is the point: the next images are fetched and decoded ahead of
// time, a key press shows the next one at once, and the label is saved in the background.
// Writes go to the server one after the other, in the order they were made, so an undo
// always follows the label it takes back.
//
// The model's suggestion for the image on screen (when the project shows suggestions on its
// split) rings its class button with the confidence on it; Enter or Space accepts it. ← and →
// go through the images labeled since the page opened (a key relabels one). The wheel zooms
// at the pointer, a drag pans, 0 (or a double click) resets.
(() => {
  "use strict";
  const state = JSON.parse(document.getElementById("labeling-state").textContent);
  const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const el = (id) => document.getElementById(id);
  // Ask the server for more when fewer than this many images wait behind the one on screen.
  const PREFETCH = 3;
  const HISTORY = 50;

  const classesByKey = new Map(state.classes.map((c) => [c.key.toLowerCase(), c]));
  const classesById = new Map(state.classes.map((c) => [c.id, c]));
  const LABELED_KEPT = 500;
  const ZOOM_MAX = 8;
  const queue = []; // upcoming images, preloading
  let current = null; // the image on screen
  const history = []; // [{kind: "label" | "skip", image, labelClass}], newest last
  const inFlight = new Map(); // image id -> writes on their way
  let writes = Promise.resolve();
  let refilling = null;
  let labeledHere = 0;
  const labeled = []; // label entries of `history` and older ones, oldest first
  let reviewIndex = null; // index into `labeled` while going back through it, else null
  let liveImage = null; // the image to come back to after reviewing
  let skippedCount = state.skipped;
  const zoom = { scale: 1, x: 0, y: 0 };
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

  function showSuggestion(image) {
    const suggestion = image && image.suggestion;
    document.querySelectorAll(".class-button").forEach((button) => {
      const suggested = Boolean(suggestion) && button.dataset.class === String(suggestion.label_class);
      button.classList.toggle("suggested", suggested);
      const badge = button.querySelector(".suggestion-confidence");
      badge.classList.toggle("d-none", !suggested);
      badge.textContent = suggested ? percent(suggestion.confidence) : "";
    });
    el("suggestion-line").classList.toggle("d-none", !suggestion);
    if (suggestion) {
      el("suggestion-label").textContent = suggestion.label;
      el("suggestion-confidence").textContent = percent(suggestion.confidence);
    }
  }

  function percent(fraction) {
    return `${Math.round(fraction * 100)}%`;
  }

  function showReview() {
    const entry = reviewIndex === null ? null : labeled[reviewIndex];
    el("reviewing").classList.toggle("d-none", !entry);
    document.querySelectorAll(".class-button").forEach((button) => {
      button.classList.toggle("active", Boolean(entry) && button.dataset.class === String(entry.labelClass.id));
    });
    if (entry) el("review-position").textContent = `${reviewIndex + 1} of ${labeled.length}, ${entry.labelClass.name}`;
    el("previous").disabled = !labeled.length || reviewIndex === 0;
    el("next").disabled = reviewIndex === null;
  }

  function showSkipped() {
    document.querySelectorAll("[data-skipped-count]").forEach((count) => {
      count.textContent = skippedCount;
    });
    el("show-skipped").classList.toggle("d-none", !skippedCount);
    document.querySelectorAll(".skipped-note").forEach((note) => note.classList.toggle("d-none", !skippedCount));
  }

  function show(image, startedAt) {
    current = image;
    el("queue-reason").textContent = image && image.queue_reason ? `Why this one: ${image.queue_reason}` : "";
    zoomReset();
    showSuggestion(image);
    showReview();
    el("empty").classList.add("d-none");
    if (!image) {
      el("frame").replaceChildren();
      el("empty").classList.remove("d-none");
      el("image-name").textContent = "";
      el("image-split").textContent = "";
      el("image-detail").classList.add("d-none");
      delete document.body.dataset.currentImage;
      showSkipped();
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

  function annotateBody(image, labelClass, fromSuggestion) {
    const body = { image: image.id, label_class: labelClass.id };
    if (fromSuggestion) body.from_suggestion = true;
    return body;
  }

  function label(labelClass, startedAt, fromSuggestion = false) {
    if (!current) return;
    if (reviewIndex !== null) {
      relabel(labelClass, startedAt, fromSuggestion);
      return;
    }
    const image = current;
    const entry = { kind: "label", image, labelClass, fromSuggestion };
    remember(entry);
    labeled.push(entry);
    if (labeled.length > LABELED_KEPT) labeled.shift();
    labeledHere += 1;
    say(`${image.original_name} → ${labelClass.name}${fromSuggestion ? " (suggested)" : ""}`);
    flash(document.querySelector(`.class-button[data-class="${labelClass.id}"]`));
    write(image, state.urls.annotate, annotateBody(image, labelClass, fromSuggestion), (error) => {
      showError(`The label for ${image.original_name} was not saved: ${error.message}. It is back in the queue.`);
      [history, labeled].forEach((list) => {
        const index = list.indexOf(entry);
        if (index >= 0) list.splice(index, 1);
      });
      labeledHere -= 1;
      say("");
      queue.unshift(image);
    });
    advance(startedAt);
  }

  function acceptSuggestion(startedAt) {
    const suggestion = current && current.suggestion;
    if (!suggestion) {
      say("No suggestion for this image: pick a class.");
      return;
    }
    label(classesById.get(suggestion.label_class), startedAt, true);
  }

  // A new label for an image labeled earlier on this page; then forward to the next one.
  function relabel(labelClass, startedAt, fromSuggestion) {
    const entry = labeled[reviewIndex];
    const before = { labelClass: entry.labelClass, fromSuggestion: entry.fromSuggestion };
    entry.labelClass = labelClass;
    entry.fromSuggestion = fromSuggestion;
    say(`${entry.image.original_name} → ${labelClass.name} (changed)`);
    flash(document.querySelector(`.class-button[data-class="${labelClass.id}"]`));
    write(entry.image, state.urls.annotate, annotateBody(entry.image, labelClass, fromSuggestion), (error) => {
      showError(`The new label for ${entry.image.original_name} was not saved: ${error.message}.`);
      Object.assign(entry, before);
      showReview();
    });
    forward(startedAt);
  }

  function back(startedAt) {
    if (!labeled.length || reviewIndex === 0) {
      say(labeled.length ? "This is the first image you labeled here." : "Nothing labeled on this page yet.");
      return;
    }
    if (reviewIndex === null) {
      liveImage = current;
      reviewIndex = labeled.length - 1;
    } else {
      reviewIndex -= 1;
    }
    show(labeled[reviewIndex].image, startedAt);
  }

  function forward(startedAt) {
    if (reviewIndex === null) return;
    if (reviewIndex < labeled.length - 1) {
      reviewIndex += 1;
      show(labeled[reviewIndex].image, startedAt);
      return;
    }
    leaveReview(startedAt);
  }

  function leaveReview(startedAt) {
    reviewIndex = null;
    const image = liveImage;
    liveImage = null;
    if (image) show(image, startedAt);
    else advance(startedAt);
  }

  function skip(startedAt) {
    if (!current) return;
    if (reviewIndex !== null) {
      forward(startedAt); // an image labeled already is not skipped: just move on
      return;
    }
    const image = current;
    remember({ kind: "skip", image });
    skippedCount += 1;
    showSkipped();
    say(`${image.original_name} skipped`);
    write(image, state.urls.skip, { image: image.id, skip: true }, (error) => showError(`Skip not saved: ${error.message}`));
    advance(startedAt);
  }

  // Brings back every image skipped (on this page or before a reload) that still needs a
  // label: they come next, in the order they were skipped.
  function unskip() {
    const held = new Set(heldIds());
    writes = writes
      .then(() => post(state.urls.unskip, {}))
      .then((data) => {
        const back = data.queue.filter((image) => !held.has(image.id)).map(prepare);
        skippedCount = 0;
        showSkipped();
        say(back.length ? `${back.length} skipped image${back.length === 1 ? "" : "s"} back in the queue` : "The skipped images have been labeled since.");
        if (reviewIndex !== null) {
          reviewIndex = null;
          current = liveImage;
          liveImage = null;
        }
        if (current) queue.unshift(current);
        queue.unshift(...back);
        show(queue.shift() || null);
      })
      .catch((error) => showError(`Could not bring the skipped images back: ${error.message}`));
  }

  function undo(startedAt) {
    if (reviewIndex !== null) {
      reviewIndex = null;
      current = liveImage;
      liveImage = null;
    }
    const entry = history.pop();
    if (!entry) {
      say("Nothing to undo.");
      showReview();
      return;
    }
    if (current) queue.unshift(current);
    if (entry.kind === "label") {
      const index = labeled.indexOf(entry);
      if (index >= 0) labeled.splice(index, 1);
      labeledHere -= 1;
      say(`Undone: ${entry.image.original_name} is unlabeled again`);
      write(entry.image, state.urls.undo, { image: entry.image.id }, (error) => showError(`Undo not saved: ${error.message}`));
    } else {
      skippedCount = Math.max(0, skippedCount - 1);
      showSkipped();
      say(`Back to ${entry.image.original_name}`);
      write(entry.image, state.urls.skip, { image: entry.image.id, skip: false }, (error) => showError(`Undo not saved: ${error.message}`));
    }
    show(entry.image, startedAt);
  }

  // --- Zoom and pan ----------------------------------------------------------------------
  const stage = el("stage");

  function zoomApply() {
    const image = current && current.element;
    if (image) image.style.transform = zoom.scale === 1 ? "" : `translate(${zoom.x}px, ${zoom.y}px) scale(${zoom.scale})`;
    stage.classList.toggle("zoomed", zoom.scale > 1);
    stage.dataset.zoom = zoom.scale.toFixed(2);
    el("zoom-level").textContent = percent(zoom.scale);
  }

  // Keeps the zoomed image covering the stage: no panning it out of sight.
  function zoomClamp() {
    const { width, height } = stage.getBoundingClientRect();
    zoom.x = Math.min(0, Math.max(width * (1 - zoom.scale), zoom.x));
    zoom.y = Math.min(0, Math.max(height * (1 - zoom.scale), zoom.y));
  }

  function zoomReset() {
    Object.assign(zoom, { scale: 1, x: 0, y: 0 });
    zoomApply();
  }

  stage.addEventListener(
    "wheel",
    (event) => {
      if (!current) return;
      event.preventDefault();
      const box = stage.getBoundingClientRect();
      const px = event.clientX - box.left;
      const py = event.clientY - box.top;
      const scale = Math.min(ZOOM_MAX, Math.max(1, zoom.scale * Math.exp(-event.deltaY * 0.0015)));
      // The point under the pointer stays where it is.
      zoom.x = px - ((px - zoom.x) * scale) / zoom.scale;
      zoom.y = py - ((py - zoom.y) * scale) / zoom.scale;
      zoom.scale = scale;
      if (scale === 1) Object.assign(zoom, { x: 0, y: 0 });
      zoomClamp();
      zoomApply();
    },
    { passive: false },
  );

  let drag = null;
  stage.addEventListener("pointerdown", (event) => {
    if (zoom.scale === 1 || event.button !== 0) return;
    event.preventDefault();
    drag = { x: event.clientX - zoom.x, y: event.clientY - zoom.y };
    stage.setPointerCapture(event.pointerId);
    stage.classList.add("panning");
  });
  stage.addEventListener("pointermove", (event) => {
    if (!drag) return;
    zoom.x = event.clientX - drag.x;
    zoom.y = event.clientY - drag.y;
    zoomClamp();
    zoomApply();
  });
  const dragEnd = () => {
    drag = null;
    stage.classList.remove("panning");
  };
  stage.addEventListener("pointerup", dragEnd);
  stage.addEventListener("pointercancel", dragEnd);
  stage.addEventListener("dblclick", zoomReset);

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing || event.repeat) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key.toLowerCase();
    // On a focused button or link, Enter and Space press it, as everywhere.
    if ((key === "enter" || key === " ") && event.target.closest("button, a")) return;
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
    } else if (key === "enter" || key === " ") {
      event.preventDefault();
      acceptSuggestion(startedAt);
    } else if (key === "arrowleft") {
      event.preventDefault();
      back(startedAt);
    } else if (key === "arrowright") {
      event.preventDefault();
      forward(startedAt);
    } else if (key === "0") {
      event.preventDefault();
      zoomReset();
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
  el("previous").addEventListener("click", (event) => {
    back(event.timeStamp);
    event.currentTarget.blur();
  });
  el("next").addEventListener("click", (event) => {
    forward(event.timeStamp);
    event.currentTarget.blur();
  });
  document.querySelectorAll(".show-skipped").forEach((button) =>
    button.addEventListener("click", (event) => {
      unskip();
      event.currentTarget.blur();
    }),
  );

  state.queue.forEach((image) => queue.push(prepare(image)));
  showSkipped();
  show(queue.shift() || null);
})();
