// Flash sales: the mall page's countdown and buy button, and the console's live figures.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // A 503 with Retry-After (the gate or the database busy for a moment, issue #21) is asked
  // again after that many seconds, a few times, with up to half a second of jitter so the
  // buyers told "1" at the same moment do not all come back at the same moment.
  var BUSY_RETRIES = 5;
  var BUSY_WAIT_MAX_SECONDS = 30;
  var JITTER_MS = 500;

  function retryAfterSeconds(r) {
    var header = r.headers.get("Retry-After");
    if (r.status !== 503 || header === null) { return null; }
    var seconds = /^\s*\d+\s*$/.test(header) ? parseInt(header, 10) : (Date.parse(header) - Date.now()) / 1000;
    return isNaN(seconds) ? null : Math.min(BUSY_WAIT_MAX_SECONDS, Math.max(0, seconds));
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      var answer = { ok: r.ok, status: r.status, data: null, retryAfter: retryAfterSeconds(r) };
      // A busy proxy's 503 may not be JSON: the status still says what happened.
      return r.json().then(
        function (data) { answer.data = data; return answer; },
        function () { return answer; }
      );
    });
  }

  // post(), asked again while the answer is "busy, come back in n seconds"; onWait(attempt)
  // is told before each wait.
  function postPatiently(url, body, onWait, attempt) {
    attempt = attempt || 0;
    return post(url, body).then(function (answer) {
      if (answer.retryAfter === null || attempt >= BUSY_RETRIES) { return answer; }
      onWait(attempt + 1);
      var wait = answer.retryAfter * 1000 + Math.random() * JITTER_MS;
      return new Promise(function (resolve) { window.setTimeout(resolve, wait); })
        .then(function () { return postPatiently(url, body, onWait, attempt + 1); });
    });
  }

  var sale = document.getElementById("flash-sale");
  if (sale) {
    // The countdown runs on the server's clock: the page says what time it was when rendered.
    var skew = Date.parse(sale.dataset.now) - Date.now();
    var starts = Date.parse(sale.dataset.starts);
    var countdown = document.getElementById("countdown");
    var tick = function () {
      var left = Math.max(0, starts - (Date.now() + skew));
      if (countdown) {
        var s = Math.floor(left / 1000);
        var pad = function (n) { return (n < 10 ? "0" : "") + n; };
        countdown.textContent = (s >= 86400 ? Math.floor(s / 86400) + "d " : "") +
          pad(Math.floor(s / 3600) % 24) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60);
      }
      if (left === 0 && sale.dataset.phase !== "live" && sale.dataset.phase !== "ended") {
        window.location.reload();
        return;
      }
      window.setTimeout(tick, 250);
    };
    if (countdown || sale.dataset.phase !== "live") { tick(); }

    var result = document.getElementById("result");
    var say = function (text) { if (result) { result.textContent = text; } };
    var messages = {
      flash_sold_out: sale.dataset.msgSoldOut,
      flash_rate_limited: sale.dataset.msgRate,
      flash_not_live: sale.dataset.msgNotLive,
      flash_not_reserved: sale.dataset.msgNotReserved,
      // Still busy after every retry.
      flash_busy: sale.dataset.msgBusy,
      flash_warming_up: sale.dataset.msgBusy,
      server_busy: sale.dataset.msgBusy
    };
    var queueing = function () { say(sale.dataset.msgQueue); };
    var poll = function () {
      fetch(sale.dataset.api + "/ticket", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (ticket) {
          if (ticket && ticket.status === "accepted") { window.setTimeout(poll, 700); return; }
          window.location.reload();
        })
        .catch(function () { window.setTimeout(poll, 1500); });
    };
    if (result && result.dataset.status === "accepted") { window.setTimeout(poll, 700); }

    var buy = document.getElementById("buy");
    if (buy) {
      buy.addEventListener("click", function () {
        buy.disabled = true;
        postPatiently(sale.dataset.api + "/token", {}, queueing)
          .then(function (answer) {
            if (!answer.ok) { throw answer; }
            // The same token again after a busy answer: the gate took nothing, or it took
            // the attempt and the retry is answered "already bought" (lean.py).
            return postPatiently(sale.dataset.api + "/buy", { token: answer.data.token }, queueing);
          })
          .then(function (answer) {
            if (answer.ok || (answer.data && answer.data.code === "flash_already_bought")) {
              say(sale.dataset.msgWait);
              poll();
              return;
            }
            throw answer;
          })
          .catch(function (answer) {
            var code = answer && answer.data && answer.data.code;
            if (!code && answer && answer.status === 503) { code = "server_busy"; }
            say(messages[code] || sale.dataset.msgError);
            buy.disabled = code === "flash_sold_out" || code === "flash_not_reserved";
          });
      });
    }
  }

  var live = document.getElementById("flash-live");
  if (live) {
    var last = null;
    var figures = {};
    live.querySelectorAll("[data-figure]").forEach(function (el) { figures[el.dataset.figure] = el; });
    var bar = document.getElementById("sold-bar");
    var updated = document.getElementById("updated");
    var refresh = function () {
      fetch(live.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          var c = s.counts;
          var now = Date.now();
          var rate = last ? Math.max(0, (c.attempts - last.attempts) * 1000 / (now - last.at)) : 0;
          last = { attempts: c.attempts, at: now };
          c.attempts_per_second = Math.round(rate);
          Object.keys(figures).forEach(function (k) { if (k in c) { figures[k].textContent = c[k]; } });
          if (bar) { bar.style.width = Math.min(100, Math.round(100 * c.units_sold / s.stock)) + "%"; }
          if (updated) { updated.textContent = new Date().toLocaleTimeString(); }
        })
        .catch(function () { /* the next tick tries again */ })
        .then(function () { window.setTimeout(refresh, 1000); });
    };
    refresh();
  }
})();
