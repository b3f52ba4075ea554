// Keeps each page live: fetches the page's live part (?part=live) every few seconds and swaps it in.
// Paused while the tab is hidden; an expanded <details data-key> stays expanded across refreshes.
(function () {
  "use strict";
  var region = document.querySelector("[data-live]");
  if (!region) return;
  var status = document.getElementById("live-status");
  var every = Math.max(1, Number(region.getAttribute("data-every")) || 3) * 1000;
  var busy = false;

  function openKeys() {
    var keys = {};
    region.querySelectorAll("details[open][data-key]").forEach(function (element) {
      keys[element.getAttribute("data-key")] = true;
    });
    return keys;
  }

  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    var url = new URL(window.location.href);
    url.searchParams.set("part", "live");
    fetch(url.toString(), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var open = openKeys();
        region.innerHTML = html; // our own server-rendered, escaped markup
        region.querySelectorAll("details[data-key]").forEach(function (element) {
          if (open[element.getAttribute("data-key")]) element.open = true;
        });
        status.textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
        status.classList.remove("offline");
      })
      .catch(function (error) {
        status.textContent = "cannot refresh: " + error.message;
        status.classList.add("offline");
      })
      .finally(function () {
        busy = false;
      });
  }

  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
