// The new-project form: add and remove class rows (a Django formset), and show the
// split ratios' sum as it is typed.
(() => {
  "use strict";
  const form = document.getElementById("project-form");
  const rows = document.getElementById("class-rows");
  const total = form.querySelector("#id_classes-TOTAL_FORMS");
  const template = document.getElementById("class-row-template");
  const palette = ["#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#d63384", "#ffc107", "#0dcaf0"];
  const MAX = 9;

  // Formset fields are named classes-<n>-<field>; renumber them after a removal.
  function renumber() {
    rows.querySelectorAll(".class-row").forEach((row, index) => {
      row.querySelectorAll("input").forEach((input) => {
        input.name = input.name.replace(/classes-(\d+|__prefix__)-/, `classes-${index}-`);
        input.id = input.id.replace(/classes-(\d+|__prefix__)-/, `classes-${index}-`);
      });
    });
    const count = rows.querySelectorAll(".class-row").length;
    total.value = count;
    document.getElementById("add-class").disabled = count >= MAX;
    rows.querySelectorAll(".remove-class").forEach((button) => { button.disabled = count <= 2; });
  }

  document.getElementById("add-class").addEventListener("click", () => {
    const count = rows.querySelectorAll(".class-row").length;
    if (count >= MAX) return;
    const row = template.content.firstElementChild.cloneNode(true);
    const used = new Set([...rows.querySelectorAll("input[name$='-key']")].map((input) => input.value));
    row.querySelector("input[name$='-key']").value = [..."123456789"].find((key) => !used.has(key)) || "";
    row.querySelector("input[type=color]").value = palette[count % palette.length];
    rows.appendChild(row);
    renumber();
    row.querySelector("input[name$='-name']").focus();
  });

  rows.addEventListener("click", (event) => {
    const button = event.target.closest(".remove-class");
    if (!button || rows.querySelectorAll(".class-row").length <= 2) return;
    button.closest(".class-row").remove();
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
})();
