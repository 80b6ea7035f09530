// The store list's "nearest first": asks the browser for its position and reloads the list
// with ?near=lat,lng (the search text kept); a refusal says so and leaves the list by name.
(function () {
  "use strict";
  var button = document.getElementById("near-me");
  var note = document.getElementById("near-note");
  if (!button) { return; }
  button.addEventListener("click", function () {
    if (!navigator.geolocation) { note.textContent = button.dataset.msgDenied; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      var url = new URL(window.location.href);
      url.searchParams.delete("cursor");
      url.searchParams.set("near", pos.coords.latitude.toFixed(5) + "," + pos.coords.longitude.toFixed(5));
      window.location.assign(url.toString());
    }, function () {
      note.textContent = button.dataset.msgDenied;
    }, { maximumAge: 600000, timeout: 10000 });
  });
})();
