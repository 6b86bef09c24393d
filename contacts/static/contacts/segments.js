// The saved segments' panel: each segment's count fetched once the page has loaded, a few at a
// time, so the list itself never waits for them; the "Save this search" form saves the search
// the address bar shows now (results typed in place change it); a delete asks first. Without
// JavaScript the links and forms work and the counts are absent.
(function () {
  "use strict";
  var panel = document.querySelector("[data-segments]");
  if (!panel) {
    return;
  }
  var AT_ONCE = 3;
  var waiting = Array.prototype.slice.call(panel.querySelectorAll("[data-segment-count]"));

  function next() {
    var badge = waiting.shift();
    if (!badge) {
      return;
    }
    fetch(badge.dataset.segmentCount, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (count) {
        if (count && typeof count.label === "string") {
          badge.textContent = count.label;
          badge.dataset.countKind = count.kind;
        }
      })
      .catch(function () {})
      .then(next);
  }
  for (var started = 0; started < AT_ONCE; started += 1) {
    next();
  }

  var save = panel.querySelector("[data-segment-save]");
  if (save) {
    save.addEventListener("submit", function () {
      save.action = save.action.split("?")[0] + window.location.search;
    });
  }
  panel.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
})();
