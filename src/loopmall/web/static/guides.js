// Guide workbench and the mall chat: live messages over a WebSocket, sending through the
// JSON API (CSRF token from the page), product cards, holds, fittings, tags.
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const yuan = (fen) => (fen / 100).toFixed(2);
  const key = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  // Every time on Loopmall's pages is Shanghai time ("YYYY-MM-DD HH:MM", as the server's
  // localtime filter writes it), whatever time zone the phone is set to.
  const shanghai = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });

  async function api(method, url, body) {
    const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method === "POST") headers["Idempotency-Key"] = key();
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const err = new Error((data && (data.detail || data.title)) || res.statusText);
      err.code = data && data.code;
      throw err;
    }
    return data;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    });
    children.flat().forEach((c) => c != null && node.append(c));
    return node;
  }

  const dataNode = $("#chat-data");
  if (dataNode) chat(JSON.parse(dataNode.textContent), JSON.parse(($("#chat-words") || {}).textContent || "{}"));
  if ($("#tag-form")) tags();

  function chat(cfg, words) {
    const log = $("#chat-log");
    const seen = new Set();
    const skus = new Map();

    function cardNode(msg) {
      const c = msg.card || {};
      const box = el("div", { class: "msg-card" },
        c.image ? el("img", { src: c.image, alt: "" }) : null,
        el("div", {}, el("strong", { class: "card-title" }, c.title || ""), " ",
          el("span", { class: "muted small" }, c.options || ""), el("br"),
          el("span", { class: "price" }, "¥" + yuan(c.price_fen || 0))));
      if (cfg.side === "customer" && msg.kind === "card") {
        const pick = el("button", { type: "button", class: "small pick", "data-message": msg.id }, words.pick || "I'd like to try this");
        pick.addEventListener("click", async () => {
          pick.disabled = true;
          try { add(await api("POST", cfg.send, { conversation: cfg.conversation, pick: msg.id })); }
          catch (e) { pick.disabled = false; alert(e.message); }
        });
        box.append(pick);
      }
      return box;
    }

    function add(msg) {
      if (!msg || seen.has(msg.id) || msg.conversation !== cfg.conversation) return;
      seen.add(msg.id);
      const mine = (cfg.side === "guide") === (msg.sender === "guide");
      const cls = "msg msg-" + msg.kind + (msg.sender === "system" ? " system" : mine ? " mine" : " theirs");
      const li = el("li", { class: cls, "data-kind": msg.kind, "data-sender": msg.sender, "data-id": msg.id });
      if (msg.kind === "card" || msg.kind === "pick") {
        if (msg.kind === "pick") li.append(el("div", { class: "pick-label" }, msg.body));
        else if (msg.body) li.append(el("div", {}, msg.body));
        li.append(cardNode(msg));
        if (msg.card && msg.card.sku) skus.set(msg.card.sku, msg.card.title + " " + (msg.card.options || ""));
      } else if (msg.kind === "hold") {
        li.append(el("div", {}, (words.hold || "On hold") + ": " + msg.body));
      } else if (msg.kind === "fitting") {
        li.append(el("div", {}, (words.fitting || "Fitting booked") + ": " + msg.body));
      } else {
        li.append(el("div", { class: "body" }, msg.body));
      }
      li.append(el("span", { class: "when" }, shanghai.format(new Date(msg.at))));
      log.append(li);
      li.scrollIntoView({ block: "end" });
      fillSkus();
    }

    function fillSkus() {
      const select = $("#hold-sku");
      if (!select) return;
      const current = new Set([...select.options].map((o) => o.value));
      skus.forEach((label, sku) => { if (!current.has(sku)) select.append(el("option", { value: sku }, label)); });
    }

    cfg.messages.forEach(add);

    let retry = 500;
    function connect() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(proto + "//" + location.host + cfg.socket);
      ws.onopen = () => { retry = 500; document.body.dataset.live = "1"; };
      ws.onmessage = (ev) => {
        const frame = JSON.parse(ev.data);
        if (frame.type === "message") add(frame.message);
      };
      ws.onclose = () => {
        document.body.dataset.live = "0";
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 10000);
      };
    }
    connect();

    $("#chat-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = $("#chat-input");
      const body = input.value.trim();
      if (!body) return;
      const payload = cfg.side === "guide" ? { kind: "text", body } : { conversation: cfg.conversation, body };
      input.value = "";
      try { add(await api("POST", cfg.send, payload)); } catch (e) { input.value = body; alert(e.message); }
    });

    if (cfg.side === "guide") guideTools(cfg, words, add);
  }

  function guideTools(cfg, words, add) {
    $("#card-search").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const list = $("#card-results");
      list.textContent = "";
      const cards = await api("GET", "/api/v1/guides/cards?q=" + encodeURIComponent($("#card-q").value.trim()));
      cards.forEach((c) => {
        const push = el("button", { type: "button", class: "small push", "data-sku": c.sku }, words.push || "Push");
        push.addEventListener("click", async () => {
          push.disabled = true;
          try { add(await api("POST", cfg.send, { kind: "card", sku: c.sku })); } finally { push.disabled = false; }
        });
        const stock = c.in_store == null ? "" : " · " + (words.in_store || "in store") + " " + c.in_store;
        list.append(el("li", { class: "card-result" }, el("span", {}, c.title + " " + c.options + " ¥" + yuan(c.price_fen) + stock), push));
      });
    });

    $("#hold-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("#hold-error").textContent = "";
      try {
        await api("POST", "/api/v1/guides/holds", {
          conversation: cfg.conversation, sku: $("#hold-sku").value, quantity: 1,
          ttl_seconds: Math.round(Number($("#hold-hours").value) * 3600),
        });
        location.reload();
      } catch (e) { $("#hold-error").textContent = e.message; }
    });

    const day = $("#fitting-day");
    const loadSlots = async () => {
      const select = $("#fitting-slot");
      select.textContent = "";
      if (!day.value) return;
      const slots = await api("GET", "/api/v1/guides/fittings/slots?conversation=" + cfg.conversation + "&day=" + day.value);
      slots.filter((s) => !s.taken).forEach((s) => select.append(el("option", { value: s.starts_at }, s.local_time)));
    };
    day.addEventListener("change", loadSlots);
    $("#fitting-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("#fitting-error").textContent = "";
      const body = { conversation: cfg.conversation, starts_at: $("#fitting-slot").value };
      if ($("#fitting-hold").value) body.hold = $("#fitting-hold").value;
      try { await api("POST", "/api/v1/guides/fittings", body); location.reload(); }
      catch (e) { $("#fitting-error").textContent = e.message; }
    });

    document.querySelectorAll(".fitting-outcome").forEach((button) => button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const body = { outcome: button.dataset.outcome };
        const off = document.querySelector(".sale-discount[data-fitting='" + button.dataset.fitting + "']");
        // The guide asks for a discount (percent, sent as basis points); the price itself
        // comes from the store's price pipeline on the server.
        if (button.dataset.outcome === "sold" && off && Number(off.value) > 0) {
          body.discount = { off_bp: Math.round(Number(off.value) * 100) };
        }
        const fitting = await api("POST", "/api/v1/guides/fittings/" + button.dataset.fitting + "/outcome", body);
        button.closest("li").remove();
        if (button.dataset.outcome === "sold") {
          const sale = await api("GET", "/api/v1/store-sales/" + fitting.order);
          const pending = sale.lines.some((x) => x.discount_approval === "pending");
          $(pending ? "#sale-pending" : "#sale-done").hidden = false;
        }
      } catch (e) { button.disabled = false; alert(e.message); }
    }));
    // A hold ends elsewhere — the till takes the money for its store sale, the customer's
    // time runs out — so the list asks again every few seconds while the page is in view.
    const refreshHolds = async () => {
      if (document.hidden) return;
      try {
        const rows = await api("GET", "/api/v1/guides/conversations/" + cfg.conversation + "/holds");
        const active = new Set(rows.map((h) => h.id));
        document.querySelectorAll("#open-holds li.hold").forEach((li) => { if (!active.has(li.dataset.hold)) li.remove(); });
      } catch (e) { /* offline for a moment: the next round tries again */ }
    };
    setInterval(refreshHolds, 4000);
    document.addEventListener("visibilitychange", refreshHolds);
    document.querySelectorAll(".hold-release").forEach((button) => button.addEventListener("click", async () => {
      button.disabled = true;
      try { await api("POST", "/api/v1/guides/holds/" + button.dataset.hold + "/release"); location.reload(); }
      catch (e) { button.disabled = false; alert(e.message); }
    }));
  }

  function tags() {
    $("#tag-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = ev.currentTarget;
      const tag = $("#tag-input").value.trim();
      if (!tag) return;
      try { await api("POST", "/api/v1/guides/customers/" + form.dataset.customer + "/tags", { tag }); location.reload(); }
      catch (e) { alert(e.message); }
    });
  }
})();
