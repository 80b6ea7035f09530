// Small shared helpers for Loopmall pages. No framework.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  // fetch() that sends the page session's CSRF token and parses problem+json errors.
  window.lmFetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({ "X-CSRF-Token": csrf }, options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options).then(function (response) {
      var type = response.headers.get("content-type") || "";
      var body = type.indexOf("json") >= 0 ? response.json() : response.text();
      return body.then(function (data) {
        if (!response.ok) {
          var err = new Error((data && data.detail) || response.statusText);
          err.problem = data; err.status = response.status;
          throw err;
        }
        return data;
      });
    });
  };
  // <form data-confirm="..."> asks before submitting.
  document.addEventListener("submit", function (event) {
    var msg = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { event.preventDefault(); }
  });
})();
