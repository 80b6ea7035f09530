// Mall pages: <div data-fragment="/url"> is filled with the HTML fragment at that URL.
(function () {
  "use strict";
  document.querySelectorAll("[data-fragment]").forEach(function (slot) {
    fetch(slot.getAttribute("data-fragment"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { slot.innerHTML = html; })
      .catch(function () { /* a missing fragment leaves the slot empty */ });
  });
})();
