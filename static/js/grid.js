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
})();
