// The product page's SKU picker: choosing option values picks the SKU, its price and stock.
(function () {
  "use strict";
  var data = document.getElementById("picker-data");
  var form = document.getElementById("picker");
  if (!data || !form) { return; }
  data = JSON.parse(data.textContent);
  var skuInput = document.getElementById("sku");
  var price = document.getElementById("price");
  var wechat = document.getElementById("wechat-price");
  var stock = document.getElementById("stock");
  var error = document.getElementById("picker-error");
  // The buy bar's buttons (form="picker") and its echo of the chosen SKU and price.
  var buttons = document.querySelectorAll('button[form="picker"]');
  var barSku = document.getElementById("bar-sku");
  var barPrice = document.getElementById("bar-price");
  var rangeText = price.textContent;
  // The hidden field replaces the script-free SKU list (in <noscript>, so not in this DOM).
  skuInput.disabled = false;
  function setButtons(disabled) {
    buttons.forEach(function (b) { b.disabled = disabled; });
  }
  function tpl(id, key, value) {
    return document.getElementById(id).innerHTML.replace("{" + key + "}", value);
  }
  function yuan(fen) { return (fen / 100).toFixed(2); }
  function chosen() {
    var picked = {};
    data.options.forEach(function (name) {
      var input = form.querySelector('input[name="opt:' + CSS.escape(name) + '"]:checked');
      if (input) { picked[name] = input.value; }
    });
    return picked;
  }
  function update() {
    var picked = chosen();
    var missing = data.options.filter(function (n) { return !(n in picked); });
    var match = null;
    if (!missing.length) {
      match = data.skus.find(function (s) {
        return data.options.every(function (n) { return s.options[n] === picked[n]; });
      }) || null;
    } else if (!data.options.length && data.skus.length === 1) {
      match = data.skus[0];
    }
    // Grey out values that no SKU with the other choices has.
    form.querySelectorAll("fieldset.opt").forEach(function (fs) {
      var name = fs.getAttribute("data-option");
      fs.querySelectorAll("input").forEach(function (input) {
        var trial = Object.assign({}, picked); trial[name] = input.value;
        var exists = data.skus.some(function (s) {
          return Object.keys(trial).every(function (n) { return s.options[n] === trial[n]; });
        });
        input.parentElement.classList.toggle("unavailable", !exists);
      });
    });
    skuInput.value = match ? match.sku : "";
    if (match) {
      price.textContent = "¥" + yuan(match.price);
      barPrice.textContent = price.textContent;
      barSku.textContent = match.label;
      if (match.wechat_price !== null) {
        wechat.hidden = false; wechat.querySelector("span").textContent = yuan(match.wechat_price);
      } else { wechat.hidden = true; }
      if (match.online > 0) { stock.textContent = tpl("t-stock-online", "n", match.online); }
      else if (match.in_stores > 0) { stock.textContent = tpl("t-stock-stores", "n", match.in_stores); }
      else { stock.textContent = tpl("t-stock-none", "n", 0); }
      setButtons(match.online + match.in_stores <= 0);
      error.hidden = true;
    } else {
      stock.textContent = missing.length ? tpl("t-choose", "names", missing.join(" / ")) : tpl("t-stock-none", "n", 0);
      price.textContent = rangeText;
      barPrice.textContent = rangeText;
      barSku.textContent = stock.textContent;
      setButtons(false);
    }
  }
  form.addEventListener("change", update);
  form.addEventListener("submit", function (event) {
    if (!skuInput.value) {
      event.preventDefault();
      error.hidden = false;
      form.scrollIntoView({ behavior: "smooth", block: "center" });
    }
  });
  update();
})();
