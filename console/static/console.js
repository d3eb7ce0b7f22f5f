// The console's only script: ask before a form marked data-confirm is sent. Pages work without it; the server
// checks every confirmation that matters (the kill switch's typed word) on its own.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);
