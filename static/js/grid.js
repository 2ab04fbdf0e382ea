// The grid: click a tile to select it, shift-click to select the range from the last one
// clicked, "Select page" for all; a class button (or its key) labels the selection.
(() => {
  "use strict";
  const form = document.getElementById("grid-form");
  const tiles = Array.from(document.querySelectorAll("#tiles .tile"));
  const boxes = tiles.map((tile) => tile.querySelector(".tile-check"));
  let anchor = null;

  function refresh() {
    const count = boxes.filter((box) => box.checked).length;
    document.getElementById("selected-count").textContent = count;
    tiles.forEach((tile, index) => tile.classList.toggle("selected", boxes[index].checked));
    form.querySelectorAll(".apply-class").forEach((button) => {
      button.disabled = count === 0;
    });
  }

  tiles.forEach((tile, index) => {
    tile.addEventListener("click", (event) => {
      // The tile is a <label>; take over its click so shift-click can select a range.
      event.preventDefault();
      const checked = !boxes[index].checked;
      if (event.shiftKey && anchor !== null) {
        const [from, to] = anchor < index ? [anchor, index] : [index, anchor];
        for (let i = from; i <= to; i += 1) boxes[i].checked = checked;
      } else {
        boxes[index].checked = checked;
      }
      anchor = index;
      refresh();
    });
  });

  document.getElementById("select-all").addEventListener("click", () => {
    boxes.forEach((box) => {
      box.checked = true;
    });
    refresh();
  });
  document.getElementById("select-none").addEventListener("click", () => {
    boxes.forEach((box) => {
      box.checked = false;
    });
    anchor = null;
    refresh();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.target.closest("input:not([type=checkbox]), textarea, select")) return;
    if (event.key === "Escape") {
      document.getElementById("select-none").click();
      return;
    }
    const button = form.querySelector(`.apply-class[data-key="${CSS.escape(event.key.toLowerCase())}"]`);
    if (button && !button.disabled) {
      event.preventDefault();
      form.requestSubmit(button);
    }
  });

  refresh();

  // Bulk accept of the model's suggestions: "across the filter" shows how many it would
  // accept and asks before doing it; "on this page" just does it (both can be undone).
  const acceptForm = document.getElementById("accept-form");
  if (acceptForm) {
    const threshold = document.getElementById("accept-threshold");
    const filterCount = document.getElementById("accept-filter-count");
    let counted = null;

    const countFor = (scope) => {
      const query = new URLSearchParams({
        scope,
        min_confidence: threshold.value,
        image_ids: acceptForm.elements.image_ids.value,
        filter_query: acceptForm.elements.filter_query.value,
      });
      return fetch(`${acceptForm.dataset.countUrl}?${query}`, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
        .then((body) => body.count);
    };
    const recount = () => {
      counted = countFor("filter").then((count) => {
        filterCount.textContent = count;
        return count;
      }, () => {
        filterCount.textContent = "?";
        return null;
      });
    };

    threshold.addEventListener("change", recount);
    acceptForm.addEventListener("submit", (event) => {
      if (event.submitter && event.submitter.value === "filter" && !acceptForm.dataset.confirmed) {
        event.preventDefault();
        const submitter = event.submitter;
        // Asked from a task of its own: while this submit event is being dispatched, the
        // browser ignores another submit of the same form.
        const asked = new Promise((resolve) => setTimeout(resolve, 0));
        Promise.all([counted || null, asked]).then(([count]) => {
          const what = count === null ? "every suggestion" : `${count} suggestion${count === 1 ? "" : "s"}`;
          if (!window.confirm(`Accept ${what} at or above ${threshold.value}% across the current filter, as your labels?`)) return;
          acceptForm.dataset.confirmed = "yes";
          acceptForm.requestSubmit(submitter);
        });
      }
    });
    recount();
  }
})();
