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
  // Store pickers (web/templates/store_picker.html): typing asks the stores API for matches
  // and offers them beside the stores already chosen; the page never lists every store.
  var pickerTimers = new WeakMap();
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box.hasAttribute || !box.hasAttribute("data-store-picker-q")) { return; }
    var picker = box.closest("[data-store-picker]");
    var list = picker && picker.querySelector("[data-store-picker-list]");
    if (!list) { return; }
    clearTimeout(pickerTimers.get(box));
    pickerTimers.set(box, setTimeout(function () {
      var limit = picker.getAttribute("data-limit") || "30";
      var url = "/api/v1/stores?limit=" + encodeURIComponent(limit) +
        (box.value.trim() ? "&q=" + encodeURIComponent(box.value.trim()) : "");
      window.lmFetch(url).then(function (page) {
        var keep = {};
        Array.prototype.slice.call(list.options).forEach(function (opt) {
          if (opt.hasAttribute("data-store") && !opt.selected) { opt.remove(); } else { keep[opt.value] = true; }
        });
        page.items.forEach(function (store) {
          var value = (picker.getAttribute("data-value-prefix") || "") + store.id;
          if (keep[value]) { return; }
          var opt = new Option(store.name + " (" + store.code + ")", value);
          opt.setAttribute("data-store", "");
          list.add(opt);
        });
      }).catch(function () { /* the search form still works */ });
    }, 250));
  });
})();
