// The contact list's search: "/" jumps to the search box (as on GitHub or YouTube), unless the
// agent is typing somewhere else or holds a modifier key. htmx fetches the results as they type
// (see the form's hx- attributes); a login page answered instead is opened as a page.
(function () {
  "use strict";
  var form = document.getElementById("contact-filters");
  var search = form && form.querySelector('input[name="q"]');
  if (!search) {
    return;
  }
  var hint = document.getElementById("search-shortcut-hint");
  if (hint) {
    hint.hidden = false;
  }

  function typingElsewhere(target) {
    if (!target || !target.tagName) {
      return false;
    }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.defaultPrevented || event.ctrlKey || event.metaKey ||
        event.altKey || typingElsewhere(event.target)) {
      return;
    }
    event.preventDefault();
    search.focus();
    search.select();
  });

  // An answer from elsewhere (the login page, once the session has expired) is no list of
  // results: go there instead of showing it in their place.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var answered = event.detail.xhr.responseURL;
    if (event.detail.requestConfig.elt === form && answered &&
        new URL(answered).pathname !== new URL(form.action).pathname) {
      event.detail.shouldSwap = false;
      window.location.assign(answered);
    }
  });
})();
