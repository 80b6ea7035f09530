// WeChat subscribe messages: configure the JS-SDK for this page (the signature comes from
// /api/v1/mall/{slug}/wechat/jssdk-config), show <wx-open-subscribe>, and report what the
// customer accepted to /api/v1/mall/{slug}/notifications/consents.
(function () {
  "use strict";
  var JSSDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js";
  var root = document.getElementById("subscribe");
  var button = document.getElementById("subscribe-button");
  if (!root || !button) { return; }
  var slug = root.getAttribute("data-mall");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function answers(raw) {
    // subscribeDetails: {"<template id>": "{\"status\":\"accept\"}"} (values are JSON text)
    var details = typeof raw === "string" ? JSON.parse(raw || "{}") : (raw || {});
    var out = {};
    Object.keys(details).forEach(function (id) {
      var v = details[id];
      if (typeof v === "string") {
        try { v = JSON.parse(v); } catch (e) { v = { status: v }; }
      }
      out[id] = (v && v.status) || "reject";
    });
    return out;
  }

  button.addEventListener("success", function (e) {
    var results = answers(e.detail && e.detail.subscribeDetails);
    fetch("/api/v1/mall/" + slug + "/notifications/consents", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ results: results })
    }).then(function (r) { return r.ok ? r.json() : []; }).then(function (rows) {
      var left = rows.reduce(function (n, row) { return n + row.remaining; }, 0);
      document.getElementById("subscribe-remaining").textContent = String(left);
      document.getElementById("subscribe-status").hidden = false;
    });
  });

  function configure() {
    var url = location.href.split("#")[0];
    fetch("/api/v1/mall/" + slug + "/wechat/jssdk-config?url=" + encodeURIComponent(url), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (cfg) {
        window.wx.config({
          debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
          signature: cfg.signature, jsApiList: cfg.jsApiList, openTagList: cfg.openTagList
        });
      });
  }

  var script = document.createElement("script");
  script.src = JSSDK;
  script.onload = configure;
  document.head.appendChild(script);
})();
