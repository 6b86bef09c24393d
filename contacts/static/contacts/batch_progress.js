// A batch's progress page, kept current: asks the JSON endpoint every few seconds and updates
// the counts and the bar, until the batch is finished; then shows the Undo button. Without
// JavaScript the page shows the counts of its load, with a link to reload it.
(function () {
  "use strict";
  var section = document.querySelector("[data-batch-progress]");
  if (!section || section.dataset.finished === "true") {
    return;
  }
  var url = section.dataset.url;
  var delay = (parseFloat(section.dataset.pollSeconds) || 2) * 1000;
  var bar = section.querySelector("[data-progress-bar]");
  var status = section.querySelector("[data-progress-status]");
  var reload = section.querySelector("[data-reload-link]");
  var undo = document.querySelector("[data-undo-form]");
  var language = document.documentElement.lang || undefined;

  function show(progress) {
    section.querySelectorAll("[data-count]").forEach(function (element) {
      var value = progress[element.dataset.count];
      if (typeof value === "number") {
        element.textContent = value.toLocaleString(language);
      }
    });
    if (bar) {
      bar.max = progress.changed;
      bar.value = progress.done;
      bar.textContent = progress.done + " / " + progress.changed;
    }
  }

  function finish() {
    section.dataset.finished = "true";
    if (status && status.dataset.finishedText) {
      status.textContent = status.dataset.finishedText;
    }
    if (reload) {
      reload.hidden = true;
    }
    if (undo) {
      undo.hidden = false;
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.finished) {
          finish();
        } else {
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        // LiveDesk is not involved here: a failed poll is this app's server, asked again later.
        window.setTimeout(poll, delay * 2);
      });
  }

  window.setTimeout(poll, delay);
})();
