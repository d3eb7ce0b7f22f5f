// The console's only script. Pages work without it; it adds two things:
// - ask before a form marked data-confirm is sent (the server checks every confirmation that matters, e.g. the
//   kill switch's typed word, on its own);
// - a table body with data-poll-url (the operations list) is refreshed in place every data-poll-seconds from that
//   URL, an HTML fragment of the console itself (the page session's cookie, no API token), so new outcomes show
//   without a page reload. A failed poll keeps the rows it has and says so in the body's data-poll-error.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);

function pollRows(body) {
  var url = body.getAttribute("data-poll-url");
  var seconds = parseFloat(body.getAttribute("data-poll-seconds")) || 5;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        body.innerHTML = html;  // the server's own escaped template (autoescape), never user text
        body.removeAttribute("data-poll-error");
        body.setAttribute("data-polled-at", new Date().toISOString());
      })
      .catch(function (err) {
        body.setAttribute("data-poll-error", String(err && err.message || err));
      })
      .then(function () {
        busy = false;
      });
  }
  window.setInterval(refresh, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", function () {
  var bodies = document.querySelectorAll("tbody[data-poll-url]");
  for (var i = 0; i < bodies.length; i++) {
    pollRows(bodies[i]);
  }
});
