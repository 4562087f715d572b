/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";

  // Copy buttons: <button data-copy-target="#selector" hidden>. Shown only when copying can work.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  function initCopyButtons() {
    var buttons = document.querySelectorAll("[data-copy-target]");
    Array.prototype.forEach.call(buttons, function (button) {
      var target;
      try { target = document.querySelector(button.getAttribute("data-copy-target")); } catch (e) { target = null; }
      if (!target) { return; }
      var original = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = ("value" in target && typeof target.value === "string") ? target.value : target.textContent;
        copyText(text.trim()).then(function () {
          button.textContent = "Copied";
          button.classList.add("is-copied");
        }, function () {
          button.textContent = "Press Ctrl+C";
        }).then(function () {
          window.setTimeout(function () {
            button.textContent = original;
            button.classList.remove("is-copied");
          }, 1500);
        });
      });
    });
  }

  // Live count of the notes in the paste box (same rule as the server: a line with only --- separates notes).
  function initNoteCounters() {
    var areas = document.querySelectorAll("textarea[data-note-counter]");
    Array.prototype.forEach.call(areas, function (area) {
      var out = document.getElementById(area.getAttribute("data-note-counter"));
      if (!out) { return; }
      var maxChars = parseInt(area.getAttribute("data-max-chars"), 10) || 100000;
      function update() {
        var parts = area.value.replace(/\r\n?/g, "\n").split(/^[ \t]*---[ \t]*$/m)
          .map(function (p) { return p.trim(); })
          .filter(function (p) { return p.length > 0; });
        var tooLong = parts.filter(function (p) { return p.length > maxChars; }).length;
        var chars = parts.reduce(function (sum, p) { return sum + p.length; }, 0);
        var text = parts.length + (parts.length === 1 ? " note" : " notes") + " · " +
          chars.toLocaleString() + " characters";
        if (tooLong) {
          text += " · " + tooLong + (tooLong === 1 ? " note is" : " notes are") +
            " over the " + maxChars.toLocaleString() + "-character limit";
        }
        out.textContent = text;
        out.classList.toggle("is-over", tooLong > 0);
        out.hidden = parts.length === 0;
      }
      area.addEventListener("input", update);
      update();
    });
  }

  // Avoid double submissions of slow forms: disable the submit button once the form is on its way.
  function initBusyForms() {
    var forms = document.querySelectorAll("form[data-busy-label]");
    Array.prototype.forEach.call(forms, function (form) {
      var button = form.querySelector("[type=submit]");
      if (!button) { return; }
      var original = button.tagName === "INPUT" ? button.value : button.textContent;
      // Coming back with the browser's back button must not leave the button disabled.
      window.addEventListener("pageshow", function () {
        button.disabled = false;
        if (button.tagName === "INPUT") { button.value = original; } else { button.textContent = original; }
      });
      form.addEventListener("submit", function () {
        window.setTimeout(function () {
          button.disabled = true;
          if (button.tagName === "INPUT") { button.value = form.getAttribute("data-busy-label"); }
          else { button.textContent = form.getAttribute("data-busy-label"); }
        }, 0);
      });
    });
  }

  function init() {
    initCopyButtons();
    initNoteCounters();
    initBusyForms();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
