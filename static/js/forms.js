// Small behaviours for plain forms: submit a select when it changes (data-autosubmit) and
// ask before a destructive submit (data-confirm="question").
(() => {
  "use strict";
  document.addEventListener("change", (event) => {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });
  document.addEventListener("submit", (event) => {
    const question = event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
