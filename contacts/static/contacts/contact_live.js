// Pages kept current while an edit is on its way to LiveDesk, without a reload.
//
// The contact's page: while its #edit-state says data-settled="false", asks data-live-url (the
// contacts:live partial) every few seconds and puts each [data-live-part] it answers in place of
// the element with the same id, until nothing will change by itself (the edit landed, or failed
// for good and waits for an agent). A section open for a quick edit is left alone. After a quick
// edit's form is swapped in, focus goes to its first invalid field, or its first field.
//
// The list: an element with data-push-states-url (contacts:push_states) makes its badges
// [data-push-state-for="<LiveDesk id>"] whose data-push-state is not "in_sync" follow their
// contact's edits: one request every few seconds for all of them, each badge replaced by the
// badge_html answered, until every one is settled. ContactLive.watchBadges(root, url) does the
// same for a part of a page (call it again after swapping rows in).
(function () {
  "use strict";

  var POLL_MS = 3000;
  // An edit still unfinished after a minute (LiveDesk down, the worker stopped) is asked about
  // less often.
  var SLOW_AFTER_MS = 60000;
  var SLOW_POLL_MS = 10000;
  var BACKOFF_MAX_MS = 30000;

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function process(element) {
    if (window.htmx) {
      window.htmx.process(element);
    }
  }

  function partsSwap(fresh) {
    fresh.querySelectorAll("[data-live-part][id]").forEach(function (part) {
      var current = document.getElementById(part.id);
      if (!current || current.hasAttribute("data-quick-edit")) {
        return;
      }
      if (current.innerHTML !== part.innerHTML) {
        current.innerHTML = part.innerHTML;
        process(current);
      }
    });
  }

  function contactWatch(region) {
    var delay = POLL_MS;
    var started = Date.now();
    function tick() {
      fetch(region.dataset.liveUrl, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          var fresh = fragment(html);
          partsSwap(fresh);
          var state = fresh.querySelector("#edit-state");
          region.dataset.settled = state ? state.dataset.settled : "true";
          delay = Date.now() - started > SLOW_AFTER_MS ? SLOW_POLL_MS : POLL_MS;
          if (region.dataset.settled !== "true") {
            window.setTimeout(tick, delay);
          }
        })
        .catch(function () {
          // LiveDesk's outage is not this app's: a failed poll tries again, less often.
          delay = Math.min(delay * 2, BACKOFF_MAX_MS);
          window.setTimeout(tick, delay);
        });
    }
    window.setTimeout(tick, POLL_MS);
  }

  function watchBadges(root, url) {
    // One loop per root: a second call (rows swapped in) adds their unsettled badges to it.
    var watched = root.liveWatched || (root.liveWatched = {});
    root.querySelectorAll("[data-push-state-for]").forEach(function (badge) {
      if (badge.dataset.pushState !== "in_sync") {
        watched[badge.dataset.pushStateFor] = true;
      }
    });
    if (root.liveWatching) {
      return;
    }
    var delay = POLL_MS;
    function tick() {
      var ids = Object.keys(watched);
      if (!ids.length) {
        root.liveWatching = false;
        return;
      }
      fetch(url + "?ids=" + encodeURIComponent(ids.join(",")), {
        credentials: "same-origin",
        cache: "no-store",
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (answer) {
          ids.forEach(function (id) {
            var state = answer.contacts[id];
            if (!state) {
              delete watched[id];
              return;
            }
            root.querySelectorAll('[data-push-state-for="' + id + '"]').forEach(function (badge) {
              badge.outerHTML = state.badge_html;
            });
            if (state.settled) {
              delete watched[id];
            }
          });
          delay = POLL_MS;
          window.setTimeout(tick, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, BACKOFF_MAX_MS);
          window.setTimeout(tick, delay);
        });
    }
    root.liveWatching = true;
    window.setTimeout(tick, POLL_MS);
  }

  // The list's results swapped in by a search: their badges are followed too.
  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.detail.target;
    if (root && root.dataset && root.dataset.pushStatesUrl) {
      watchBadges(root, root.dataset.pushStatesUrl);
    }
  });

  var swapTarget = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    swapTarget = event.detail.elt.getAttribute("hx-target");
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!swapTarget || swapTarget.indexOf("#contact-section-") !== 0) {
      return;
    }
    var section = document.querySelector(swapTarget);
    swapTarget = null;
    // An agent (or a test) already in one of the new fields keeps their place: moving focus now
    // would send what they type next to another field.
    if (!section || (section.contains(document.activeElement) && document.activeElement !== section)) {
      return;
    }
    var focus = section.hasAttribute("data-quick-edit")
      ? section.querySelector("[aria-invalid='true'], #conflicts") ||
        section.querySelector("input:not([type='hidden']), textarea, select")
      : section.querySelector("[hx-get]");
    if (focus) {
      focus.focus();
    }
  });

  function start() {
    var region = document.querySelector("#edit-state[data-live-url]");
    if (region && region.dataset.settled === "false") {
      contactWatch(region);
    }
    document.querySelectorAll("[data-push-states-url]").forEach(function (root) {
      watchBadges(root, root.dataset.pushStatesUrl);
    });
  }

  window.ContactLive = { watchBadges: watchBadges };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
