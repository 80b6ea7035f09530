// The pay page: poll until paid, then go on; inside WeChat, hand the JSAPI parameters over.
(function () {
  "use strict";
  var root = document.getElementById("pay");
  if (!root) { return; }
  var url = root.getAttribute("data-status-url");
  var done = root.getAttribute("data-paid") === "yes";
  function poll() {
    if (done || !url) { return; }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.paid && s.next) { done = true; window.location.assign(s.next); return; }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  if (document.getElementById("pay-attempt")) { window.setTimeout(poll, 1000); }
  var jsapi = document.getElementById("jsapi-pay");
  if (jsapi) {
    jsapi.addEventListener("click", function () {
      var params = JSON.parse(jsapi.getAttribute("data-params"));
      if (window.WeixinJSBridge) {
        window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function () { poll(); });
      }
    });
  }
})();
