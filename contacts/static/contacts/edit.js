// The contact form: the error summary takes focus and its links go to their fields; custom
// attribute rows are added in place. Without JavaScript the summary still opens focused
// (autofocus), its links still scroll to their fields, and "Add an attribute" posts the form
// back with one more row.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    if (summary.hasAttribute("autofocus") && document.activeElement !== summary) {
      summary.focus();
    }
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("[data-error-link]");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!field) {
        return;
      }
      event.preventDefault();
      var label = document.querySelector('label[for="' + field.id + '"]');
      // The label and the field both in view, clear of the sticky Save bar (scroll-margin).
      (label && !label.classList.contains("visually-hidden") ? label : field).scrollIntoView({ block: "center" });
      field.focus({ preventScroll: true });
    });
  }

  document.querySelectorAll("[data-custom-rows]").forEach(function (section) {
    var prefix = section.dataset.prefix;
    var total = section.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var list = section.querySelector("[data-custom-row-list]");
    var template = section.querySelector("template[data-custom-row-template]");
    var add = section.querySelector("[data-custom-add]");
    var headings = section.querySelector("[data-custom-headings]");
    if (!total || !list || !template || !add) {
      return;
    }
    add.addEventListener("click", function (event) {
      event.preventDefault();
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      list.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      if (headings) {
        headings.classList.add("d-md-flex");
      }
      var rows = list.querySelectorAll("[data-custom-row]");
      var key = rows[rows.length - 1].querySelector("input[type=text]");
      if (key) {
        key.focus();
      }
    });
    section.addEventListener("change", function (event) {
      if (event.target.matches("[data-custom-remove]")) {
        event.target.closest("[data-custom-row]").classList.toggle("is-removed", event.target.checked);
      }
    });
  });
})();
