// The new-project form and the settings page: add and remove class rows (a Django
// formset), show the split ratios' sum as it is typed, and on the settings page enable
// "Delete project" once the project's name is typed.
(() => {
  "use strict";
  const form = document.getElementById("project-form");
  const rows = document.getElementById("class-rows");
  const total = form.querySelector("#id_classes-TOTAL_FORMS");
  const template = document.getElementById("class-row-template");
  const palette = ["#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#d63384", "#ffc107", "#0dcaf0"];
  const MAX = 9;

  // An existing class (settings page) is marked for removal, not taken out of the form: the
  // server removes it on save, or refuses if labels use it.
  const isExisting = (row) => Boolean(row.querySelector("input[name$='-id']")?.value);
  const isMarked = (row) => Boolean(row.querySelector("input[name$='-DELETE']")?.checked);
  const liveRows = () => [...rows.querySelectorAll(".class-row")].filter((row) => !isMarked(row));

  // Formset fields are named classes-<n>-<field>; renumber them after a removal.
  function renumber() {
    rows.querySelectorAll(".class-row").forEach((row, index) => {
      row.querySelectorAll("input").forEach((input) => {
        input.name = input.name.replace(/classes-(\d+|__prefix__)-/, `classes-${index}-`);
        input.id = input.id.replace(/classes-(\d+|__prefix__)-/, `classes-${index}-`);
      });
    });
    total.value = rows.querySelectorAll(".class-row").length;
    const live = liveRows().length;
    document.getElementById("add-class").disabled = live >= MAX;
    rows.querySelectorAll(".class-row").forEach((row) => {
      const button = row.querySelector(".remove-class");
      if (isMarked(row)) {
        button.disabled = live >= MAX;
      } else {
        button.disabled = live <= 2 || button.hasAttribute("data-in-use");
      }
    });
  }

  document.getElementById("add-class").addEventListener("click", () => {
    if (liveRows().length >= MAX) return;
    const row = template.content.firstElementChild.cloneNode(true);
    const used = new Set(liveRows().map((r) => r.querySelector("input[name$='-key']").value));
    row.querySelector("input[name$='-key']").value = [..."123456789"].find((key) => !used.has(key)) || "";
    row.querySelector("input[type=color]").value = palette[rows.querySelectorAll(".class-row").length % palette.length];
    rows.appendChild(row);
    renumber();
    row.querySelector("input[name$='-name']").focus();
  });

  rows.addEventListener("click", (event) => {
    const button = event.target.closest(".remove-class");
    if (!button) return;
    const row = button.closest(".class-row");
    if (isExisting(row)) {
      const marker = row.querySelector("input[name$='-DELETE']");
      marker.checked = !marker.checked;
      row.classList.toggle("opacity-50", marker.checked);
      row.querySelector("input[name$='-name']").classList.toggle("text-decoration-line-through", marker.checked);
      button.setAttribute("aria-label", marker.checked ? "Keep this class" : "Remove this class");
      button.title = button.getAttribute("aria-label");
      button.querySelector("i").className = marker.checked ? "bi bi-arrow-counterclockwise" : "bi bi-x-lg";
    } else if (liveRows().length > 2) {
      row.remove();
    }
    renumber();
  });

  const ratioInputs = ["train", "validation", "test"].map((split) => document.getElementById(`id_${split}_percent`));
  const sum = document.getElementById("ratio-sum");
  function showSum() {
    const value = ratioInputs.reduce((acc, input) => acc + (parseInt(input.value, 10) || 0), 0);
    sum.textContent = `${value}% of 100%`;
    sum.className = `small ${value === 100 ? "text-success" : "text-danger"}`;
  }
  ratioInputs.forEach((input) => input.addEventListener("input", showSum));
  showSum();
  renumber();

  const deleteForm = document.getElementById("project-delete-form");
  if (deleteForm) {
    const typed = deleteForm.querySelector("input[name=confirm_name]");
    const button = document.getElementById("project-delete");
    const matches = () => typed.value.trim() === deleteForm.dataset.projectName;
    typed.addEventListener("input", () => { button.disabled = !matches(); });
    deleteForm.addEventListener("submit", (event) => {
      if (!matches() || !window.confirm(`Delete “${deleteForm.dataset.projectName}” and everything in it?`)) {
        event.preventDefault();
      }
    });
  }
})();
