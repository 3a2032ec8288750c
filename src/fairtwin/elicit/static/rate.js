// Keyboard shortcuts (A, B, T; arrows left/right/down) and the response time of each answer.
(function () {
  "use strict";
  var shown = Date.now();
  var form = document.getElementById("answer");
  if (!form) { return; }
  var sent = false;
  form.addEventListener("submit", function (event) {
    if (sent) { event.preventDefault(); return; }
    sent = true;
    document.getElementById("response_ms").value = String(Date.now() - shown);
  });
  var keys = { a: "choose-a", arrowleft: "choose-a", b: "choose-b", arrowright: "choose-b",
               t: "choose-tie", arrowdown: "choose-tie" };
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var id = keys[event.key.toLowerCase()];
    if (id) {
      event.preventDefault();
      document.getElementById(id).click();
    }
  });
})();
