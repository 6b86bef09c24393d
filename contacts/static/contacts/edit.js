// Adds and removes custom attribute rows on the contact form. Without JavaScript the form
// still offers two blank rows and a Remove checkbox on each row.
(function () {
  "use strict";
  document.querySelectorAll("[data-custom-rows]").forEach(function (section) {
    var prefix = section.dataset.prefix;
    var total = section.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var list = section.querySelector("[data-custom-row-list]");
    var template = section.querySelector("template[data-custom-row-template]");
    var add = section.querySelector("[data-custom-add]");
    if (!total || !list || !template || !add) {
      return;
    }
    add.classList.remove("d-none");
    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      list.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
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
