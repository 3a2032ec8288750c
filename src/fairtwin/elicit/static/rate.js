// Keyboard shortcuts and the response time of each answer.
// Only letter keys answer (A, B, E equally fair, C can't tell; U opens the last answer to
// change it): the keys that scroll
// (arrows, Page Up/Down, Space, Home, End) keep scrolling and never answer.
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
  var keys = { a: "choose-a", b: "choose-b", e: "choose-tie", c: "choose-unsure", u: "undo" };
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) { return; }
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) { return; }
    var id = keys[event.key.toLowerCase()];
    var element = id ? document.getElementById(id) : null;
    if (element) {
      event.preventDefault();
      element.click();
    }
  });
})();
