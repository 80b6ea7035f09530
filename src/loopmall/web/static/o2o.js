// The new-QR-code form: show only the fields the chosen kind uses.
(function () {
  "use strict";
  var kind = document.getElementById("channel-kind");
  if (!kind) { return; }
  function update() {
    document.querySelectorAll(".o2o-form label[data-for]").forEach(function (label) {
      var kinds = label.getAttribute("data-for").split(" ");
      label.hidden = kinds.indexOf(kind.value) < 0;
    });
  }
  kind.addEventListener("change", update);
  // Fields of another kind are not sent: a code names only what its kind uses.
  kind.form.addEventListener("submit", function () {
    kind.form.querySelectorAll("label[data-for][hidden] input, label[data-for][hidden] select")
      .forEach(function (field) { field.disabled = true; });
  });
  update();
})();
