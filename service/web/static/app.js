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

  // One polite live region for short confirmations ("Copied"): a button's changed text is not read out.
  var announcer = null;
  function announce(text) {
    if (!announcer) {
      announcer = document.createElement("p");
      announcer.className = "visually-hidden";
      announcer.setAttribute("role", "status");
      document.body.appendChild(announcer);
    }
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
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
        var what = button.getAttribute("aria-label") || original;
        copyText(text.trim()).then(function () {
          button.textContent = "Copied";
          button.classList.add("is-copied");
          announce("Copied: " + what.replace(/^Copy /, ""));
        }, function () {
          button.textContent = "Press Ctrl+C";
          announce("Could not copy; select the text and press Ctrl+C");
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

  // Chosen files against the request size limit: say how much is chosen, and keep a form over the limit from being
  // sent (the server answers such a request with 413; a browser may show only a reset connection mid-upload).
  function initFileLimits() {
    var inputs = document.querySelectorAll("input[type=file][data-max-bytes]");
    Array.prototype.forEach.call(inputs, function (input) {
      var out = document.getElementById(input.getAttribute("data-size-counter"));
      var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10);
      if (!out || !maxBytes || !input.form) { return; }
      var original = out.textContent;
      function mib(n) { return (n / 1048576).toLocaleString(undefined, { maximumFractionDigits: 1 }) + " MiB"; }
      function total() {
        return Array.prototype.reduce.call(input.files || [], function (sum, f) { return sum + f.size; }, 0);
      }
      function update() {
        var bytes = total();
        var count = (input.files || []).length;
        out.classList.toggle("is-over", bytes > maxBytes);
        out.textContent = !count ? original : count + (count === 1 ? " file · " : " files · ") + mib(bytes) +
          (bytes > maxBytes ? " · over the " + mib(maxBytes) + " limit of one request: choose fewer files" : "");
      }
      input.addEventListener("change", update);
      input.form.addEventListener("submit", function (event) {
        if (total() > maxBytes) { event.preventDefault(); update(); input.focus(); }
      });
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
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented) { return; }  // not sent after all (files over the size limit)
        window.setTimeout(function () {
          button.disabled = true;
          if (button.tagName === "INPUT") { button.value = form.getAttribute("data-busy-label"); }
          else { button.textContent = form.getAttribute("data-busy-label"); }
        }, 0);
      });
    });
  }

  // A form sent back with errors: move focus to the error summary, so it is read out and Tab goes on from there.
  function focusErrors() {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  }

  // A running job's page: fetch it again every few seconds and update the status in place (a reload would send a
  // screen reader back to the top). When the job is done the server redirects to what it made: follow it.
  function initJobPolling() {
    var section = document.querySelector("[data-poll-seconds]");
    if (!section || !window.fetch || !window.DOMParser) { return; }
    var delay = (parseInt(section.getAttribute("data-poll-seconds"), 10) || 2) * 1000;
    function poll() {
      window.fetch(window.location.href, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
        if (response.redirected) { window.location.assign(response.url); return null; }
        if (response.status === 404) { window.location.reload(); return null; }  // the job is gone: show why, stop
        return response.ok ? response.text() : undefined;
      }).then(function (html) {
        if (html === null) { return; }
        if (html === undefined) { window.setTimeout(poll, delay); return; }  // a 503 while a server restarts: retry
        var doc = new DOMParser().parseFromString(html, "text/html"), fresh = doc.getElementById(section.id);
        if (!fresh) { window.location.reload(); return; }
        ["status-h", "job-status-live"].forEach(function (id) {
          var now = document.getElementById(id), next = fresh.querySelector("#" + id);
          if (now && next && now.innerHTML !== next.innerHTML) { now.innerHTML = next.innerHTML; }
        });
        if (doc.title) { document.title = doc.title; }
        if (fresh.hasAttribute("data-poll-seconds")) { window.setTimeout(poll, delay); }
        else {
          var hint = document.getElementById("job-refresh-hint");
          if (hint) { hint.remove(); }
        }
      }, function () { window.setTimeout(poll, delay); });
    }
    window.setTimeout(poll, delay);
  }

  function init() {
    initCopyButtons();
    initNoteCounters();
    initFileLimits();  // before initBusyForms: its submit check runs first
    initBusyForms();
    focusErrors();
    initJobPolling();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
