// The contact list's conditions on custom attributes: the operators offered follow the chosen
// attribute's type, and the value box becomes a number, a date or a list's options. Without
// JavaScript every operator is offered and the server says which ones do not fit.
(function () {
  "use strict";
  var INPUT_TYPES = { number: "number", currency: "number", percent: "number", date: "date" };

  function narrow(row) {
    var attr = row.querySelector(".condition-attr");
    var op = row.querySelector(".condition-op");
    var value = row.querySelector(".condition-value");
    if (!attr || !op || !value) {
      return;
    }
    var chosen = attr.options[attr.selectedIndex];
    var type = chosen ? chosen.getAttribute("data-type") || "" : "";
    var firstFitting = null;
    Array.prototype.forEach.call(op.options, function (option) {
      var fits = !type || (" " + option.getAttribute("data-types") + " ").indexOf(" " + type + " ") >= 0;
      option.hidden = !fits;
      option.disabled = !fits;
      if (fits && firstFitting === null) {
        firstFitting = option;
      }
    });
    var selected = op.options[op.selectedIndex];
    if (selected && selected.disabled && firstFitting) {
      firstFitting.selected = true;
      selected = firstFitting;
    }
    var needsValue = !selected || selected.getAttribute("data-needs-value") === "1";
    value.type = INPUT_TYPES[type] || "text";
    if (value.type === "number") {
      value.step = "any";
    } else {
      value.removeAttribute("step");
    }
    if (type === "list" && document.getElementById("attr-options-" + attr.value)) {
      value.setAttribute("list", "attr-options-" + attr.value);
    } else {
      value.removeAttribute("list");
    }
    // Hidden, never disabled: the value keeps its place among the repeated parameters.
    value.closest("div").style.visibility = needsValue ? "" : "hidden";
  }

  document.querySelectorAll(".attribute-condition").forEach(function (row) {
    narrow(row);
    row.querySelector(".condition-attr").addEventListener("change", function () { narrow(row); });
    row.querySelector(".condition-op").addEventListener("change", function () { narrow(row); });
  });
})();
