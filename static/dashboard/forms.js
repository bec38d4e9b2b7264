// Small form behaviours, kept in a static file because the Content-Security-Policy runs no
// inline script or handler:
// - a form marked data-confirm="question" asks before it is sent;
// - a range input shows its value in its <output for="<input id>">, plus the output's
//   data-suffix (the slider's live percentage);
// - a range input marked data-submit-on-release submits its form once when the pointer lets
//   go of it (keyboard users press Enter or the form's button), never on every step.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input || input.type !== "range" || !input.id) { return; }
    document.querySelectorAll('output[for="' + input.id + '"]').forEach(function (output) {
      output.value = input.value + (output.getAttribute("data-suffix") || "");
    });
  });
  document.addEventListener("pointerup", function (event) {
    var input = event.target;
    if (!input || input.type !== "range" || !input.hasAttribute("data-submit-on-release")) { return; }
    if (input.form) { input.form.requestSubmit(); }
  });
})();
