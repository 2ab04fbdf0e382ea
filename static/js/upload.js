// The upload page: drop (or pick) many photos or a .zip; they go up a few per request so a
// big upload never becomes one giant request and the bar moves; each file's verdict is
// listed as its batch comes back.
(() => {
  "use strict";
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file-input");
  const dropzone = document.getElementById("dropzone");
  const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const el = (id) => document.getElementById(id);

  // A batch holds at most this many files or bytes; a zip always travels alone.
  const BATCH_FILES = 8;
  const BATCH_BYTES = 8 * 1024 * 1024;
  // Two requests in flight: one uploads while the server checks and stores the other.
  const PARALLEL = 2;

  const totals = { files: 0, bytes: 0, doneFiles: 0, sentBytes: 0, created: 0, duplicates: 0, rejected: 0 };
  const pending = []; // batches waiting to be sent
  let active = 0;
  // Time spent uploading, summed over the busy spells (a second drop may come much later).
  let busySince = null;
  let busyMs = 0;

  function isZip(file) {
    return /\.zip$/i.test(file.name) || file.type === "application/zip" || file.type === "application/x-zip-compressed";
  }

  function toBatches(files) {
    const batches = [];
    let current = [];
    let bytes = 0;
    for (const file of files) {
      if (isZip(file)) {
        batches.push([file]);
        continue;
      }
      if (current.length && (current.length >= BATCH_FILES || bytes + file.size > BATCH_BYTES)) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(file);
      bytes += file.size;
    }
    if (current.length) batches.push(current);
    return batches;
  }

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0);
  }

  function render() {
    const percent = totals.bytes ? Math.min(100, Math.round((100 * totals.sentBytes) / totals.bytes)) : 0;
    const bar = el("progress-bar");
    bar.style.width = `${percent}%`;
    bar.parentElement.setAttribute("aria-valuenow", String(percent));
    const finished = totals.doneFiles >= totals.files && active === 0 && pending.length === 0;
    bar.classList.toggle("progress-bar-striped", !finished);
    bar.classList.toggle("progress-bar-animated", !finished);
    bar.classList.toggle("bg-success", finished);
    el("progress-percent").textContent = `${percent}%`;
    el("progress-text").textContent = finished
      ? `Done: ${totals.files} file${totals.files === 1 ? "" : "s"} in ${(busyMs / 1000).toFixed(1)} s.`
      : `Uploading: ${totals.doneFiles} of ${totals.files} files checked · ${megabytes(totals.sentBytes)} of ${megabytes(totals.bytes)} MB sent`;
    el("count-created").textContent = totals.created;
    el("count-duplicates").textContent = totals.duplicates;
    el("count-rejected").textContent = totals.rejected;
    el("upload-next").classList.toggle("d-none", !finished);
    form.dataset.state = finished ? "done" : "uploading";
  }

  function cell(row, content) {
    const td = row.insertCell();
    if (typeof content === "string") td.textContent = content;
    else if (content) td.append(...[].concat(content));
    return td;
  }

  function badge(text, css) {
    const span = document.createElement("span");
    span.className = `badge ${css}`;
    span.textContent = text;
    return span;
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function thumb(src) {
    const img = document.createElement("img");
    Object.assign(img, { src, alt: "", width: 40, height: 40, loading: "lazy", className: "rounded verdict-thumb" });
    return img;
  }

  // A file's name, and for a member of a zip, which zip it came from (a zip travels alone
  // in its batch, so every verdict of that batch but the zip's own is one of its members).
  function nameCell(row, name, archive) {
    const content = [name];
    if (archive && archive !== name) {
      const from = document.createElement("div");
      from.className = "small text-body-secondary verdict-archive";
      from.textContent = `from ${archive}`;
      content.push(from);
    }
    cell(row, content).className = "text-break";
  }

  // The same markup as templates/labeling/_verdict_row.html.
  function addRow(kind, item, archive) {
    const row = el("verdicts").insertRow();
    row.className = `verdict verdict-${kind}`;
    if (kind === "created") {
      cell(row, thumb(item.thumbnail_url)).className = "verdict-thumb-cell";
      nameCell(row, item.original_name, archive);
      cell(row, badge("Stored", "text-bg-success"));
      const details = [badge(item.split, "text-bg-light border"), " "];
      if (item.label) details.push(badge(item.label, "text-bg-secondary"), " ");
      details.push(link(item.page_url, "open"));
      cell(row, details).className = "small";
    } else if (kind === "duplicate") {
      cell(row, thumb(item.of.thumbnail_url)).className = "verdict-thumb-cell";
      nameCell(row, item.name, archive);
      cell(row, badge("Duplicate", "text-bg-warning"));
      cell(row, ["of ", link(item.of.page_url, item.of.original_name)]).className = "small";
    } else {
      const icon = document.createElement("i");
      icon.className = "bi bi-file-earmark-x fs-4 text-danger";
      cell(row, icon).className = "verdict-thumb-cell";
      nameCell(row, item.name, archive);
      cell(row, badge("Rejected", "text-bg-danger"));
      cell(row, item.error).className = "small";
    }
  }

  function record(verdicts, batch) {
    const archive = batch.length === 1 && isZip(batch[0]) ? batch[0].name : null;
    verdicts.created.forEach((item) => addRow("created", item, archive));
    verdicts.duplicates.forEach((item) => addRow("duplicate", item, archive));
    verdicts.rejected.forEach((item) => addRow("rejected", item, archive));
    totals.created += verdicts.created.length;
    totals.duplicates += verdicts.duplicates.length;
    totals.rejected += verdicts.rejected.length;
  }

  function send(batch) {
    const bytes = batch.reduce((sum, file) => sum + file.size, 0);
    let sent = 0;
    const data = new FormData();
    data.append("split", form.elements.split.value);
    data.append("label", form.elements.label.value);
    batch.forEach((file) => data.append("files", file, file.name));
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRFToken", csrfToken);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const now = Math.round((bytes * event.loaded) / event.total);
        totals.sentBytes += now - sent;
        sent = now;
        render();
      });
      const finish = (verdicts) => {
        totals.sentBytes += bytes - sent;
        totals.doneFiles += batch.length;
        record(verdicts, batch);
        resolve();
      };
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (error) {
          body = null;
        }
        if (body && body.created) {
          // Verdicts per file, also when the server's storage failed mid-batch (507, 503):
          // the files stored before it are stored, the others say why not.
          finish(body);
        } else {
          const why = (body && body.detail) || `the server answered ${xhr.status}`;
          finish({ created: [], duplicates: [], rejected: batch.map((file) => ({ name: file.name, error: `Upload failed: ${why}` })) });
        }
      });
      xhr.addEventListener("error", () => {
        finish({ created: [], duplicates: [], rejected: batch.map((file) => ({ name: file.name, error: "Upload failed: the connection was lost." })) });
      });
      xhr.send(data);
    });
  }

  function pump() {
    while (active < PARALLEL && pending.length) {
      const batch = pending.shift();
      active += 1;
      send(batch).then(() => {
        active -= 1;
        if (active === 0 && pending.length === 0 && busySince !== null) {
          busyMs += performance.now() - busySince;
          busySince = null;
        }
        render();
        pump();
      });
    }
  }

  function upload(fileList) {
    const files = Array.from(fileList);
    if (!files.length) return;
    if (busySince === null) busySince = performance.now();
    totals.files += files.length;
    totals.bytes += files.reduce((sum, file) => sum + file.size, 0);
    pending.push(...toBatches(files));
    el("upload-status").classList.remove("d-none");
    el("verdicts-card").classList.remove("d-none");
    render();
    pump();
  }

  input.addEventListener("change", () => {
    upload(input.files);
    input.value = "";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    upload(input.files);
  });

  ["dragenter", "dragover"].forEach((type) =>
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("dragover");
    }),
  );
  ["dragleave", "dragend"].forEach((type) => dropzone.addEventListener(type, () => dropzone.classList.remove("dragover")));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("dragover");
    upload(event.dataTransfer.files);
  });
  // A file dropped beside the zone must not make the browser navigate away to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
})();
