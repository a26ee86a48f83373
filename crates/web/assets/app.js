// Infusio: small progressive enhancements. Every page works without this script.
"use strict";
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var msg = form.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) { ev.preventDefault(); return; }
  // A submit button clicked twice sends one request.
  if (form.dataset.sent === "1" && !form.hasAttribute("data-allow-resubmit")) { ev.preventDefault(); return; }
  if (form.method.toLowerCase() === "post") { form.dataset.sent = "1"; }
});
document.addEventListener("click", function (ev) {
  if (ev.target.closest && ev.target.closest("[data-print]")) { window.print(); }
});
// Titration timer: counts down to the next step.
function tick() {
  var nodes = document.querySelectorAll("[data-due-ms]");
  for (var i = 0; i < nodes.length; i++) {
    var due = Number(nodes[i].getAttribute("data-due-ms"));
    var out = nodes[i].querySelector("[data-countdown]");
    if (!out) continue;
    var s = Math.round((due - Date.now()) / 1000);
    if (s <= 0) { out.textContent = "— step up now (as tolerated)"; nodes[i].classList.add("due"); }
    else { out.textContent = "(in " + Math.floor(s / 60) + " min " + (s % 60) + " s)"; }
  }
}
tick();
setInterval(tick, 1000);
