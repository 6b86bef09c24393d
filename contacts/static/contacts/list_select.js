// The contact list's ticks: one box ticks every contact on the page. Without JavaScript each
// row is ticked on its own, and "Select all matching contacts" covers every page. The search as
// you type replaces the results (and their boxes): they are bound again each time.
(function () {
  "use strict";
  function bind() {
    var page = document.getElementById("tick-page");
    var ticks = document.querySelectorAll('input[name="contact"][form="bulk-selection"]');
    if (!page || !ticks.length) {
      return;
    }
    function sync() {
      var ticked = Array.prototype.filter.call(ticks, function (tick) { return tick.checked; });
      page.checked = ticked.length === ticks.length;
      page.indeterminate = ticked.length > 0 && ticked.length < ticks.length;
    }
    page.hidden = false;
    page.addEventListener("change", function () {
      ticks.forEach(function (tick) { tick.checked = page.checked; });
    });
    ticks.forEach(function (tick) { tick.addEventListener("change", sync); });
    sync();
  }
  bind();
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id === "contact-results") {
      bind();
    }
  });
})();
