// Sharing (social/share_bar.html, social/share.html).
// The share form makes the shopper's signed link through the API and shows it in a panel:
// copy it, open the poster. Inside WeChat the JS-SDK is configured for this page (the
// signature comes from /api/v1/mall/{slug}/wechat/share-config) so that WeChat's own
// "send to friend" / "Moments" carry the shopper's link, title and picture.
(function () {
  "use strict";
  var JSSDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js";

  function copy(input, done) {
    function fallback() {
      input.select();
      try { document.execCommand("copy"); } catch (e) { /* selected: the user copies */ }
      done();
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, fallback);
    } else {
      fallback();
    }
  }

  function wireCopy() {
    var button = document.getElementById("share-copy");
    var input = document.getElementById("share-link");
    var note = document.getElementById("share-copied");
    if (!button || !input) { return; }
    button.addEventListener("click", function () {
      copy(input, function () { if (note) { note.hidden = false; } });
    });
  }

  function absolute(src) {
    if (!src) { return ""; }
    return /^https?:/.test(src) ? src : location.origin + src;
  }

  function configureWechat(bar, link) {
    var slug = bar.getAttribute("data-mall");
    var data = {
      title: bar.getAttribute("data-title") || document.title,
      desc: bar.getAttribute("data-desc") || "",
      link: link || location.href.split("#")[0],
      imgUrl: absolute(bar.getAttribute("data-image"))
    };
    var script = document.createElement("script");
    script.src = JSSDK;
    script.onload = function () {
      var url = location.href.split("#")[0];
      fetch("/api/v1/mall/" + slug + "/wechat/share-config?url=" + encodeURIComponent(url), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
        .then(function (cfg) {
          window.wx.config({
            debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
            signature: cfg.signature, jsApiList: cfg.jsApiList
          });
          window.wx.ready(function () {
            window.wx.updateAppMessageShareData(data);
            window.wx.updateTimelineShareData({ title: data.title, link: data.link, imgUrl: data.imgUrl });
          });
        })
        .catch(function () { /* no WeChat account: WeChat shares the plain page */ });
    };
    document.head.appendChild(script);
  }

  function createShare(bar, form) {
    var slug = bar.getAttribute("data-mall");
    var csrf = form.querySelector("input[name=csrf_token]").value;
    return fetch("/api/v1/mall/" + slug + "/shares", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({
        target_kind: bar.getAttribute("data-kind"),
        target: bar.getAttribute("data-target") || ""
      })
    }).then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); });
  }

  function wireBar(bar) {
    var form = document.getElementById("share-form");
    var panel = document.getElementById("share-panel");
    var wechat = bar.getAttribute("data-wechat") === "1";
    var made = null;

    function show(share) {
      document.getElementById("share-link").value = share.url;
      document.getElementById("share-poster").href = share.poster_url;
      document.getElementById("share-error").hidden = true;
      panel.hidden = false;
    }

    function fail() {
      document.getElementById("share-error").hidden = false;
      panel.hidden = false;
    }

    if (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        (made || createShare(bar, form)).then(function (share) { made = Promise.resolve(share); show(share); }, fail);
      });
    }
    if (wechat) {
      if (form) {
        made = createShare(bar, form);
        made.then(function (share) { configureWechat(bar, share.url); },
                  function () { made = null; configureWechat(bar, null); });
      } else {
        var via = bar.getAttribute("data-via");
        var slugOf = bar.getAttribute("data-mall");
        configureWechat(bar, /^[A-Za-z0-9_.-]+$/.test(via || "") ? location.origin + "/m/" + slugOf + "/s/" + via : null);
      }
    }
    wireCopy();
  }

  var bar = document.getElementById("share-bar");
  if (bar) {
    wireBar(bar);
  } else if (document.getElementById("share-page")) {
    wireCopy();
  }
})();
