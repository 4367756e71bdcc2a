// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Confirm destructive actions marked with data-confirm.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
  // A file over its input's data-max-bytes is refused before it is sent,
  // with the message in the field's error line (the server refuses it too).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.querySelectorAll) return;
    form.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
      var max = parseInt(input.getAttribute("data-max-bytes"), 10);
      var f = input.files && input.files[0];
      if (!f || !(f.size > max)) return;
      e.preventDefault();
      var err = document.getElementById(input.getAttribute("aria-describedby"));
      if (err) {
        err.textContent = "The archive is larger than " + Math.round(max / 1048576) +
          " MB; leave out build output, folders you do not need and data files.";
        err.hidden = false;
      }
      input.focus();
    });
  });
  // A lesson's table of contents marks the section being read: the last
  // section heading above the top third of the window.
  function markSections() {
    var links = document.querySelectorAll(".toc a[data-section]");
    if (!links.length || !window.IntersectionObserver) return;
    var heads = [];
    links.forEach(function (a) {
      var h = document.getElementById(a.getAttribute("data-section"));
      if (h && heads.indexOf(h) < 0) heads.push(h);
    });
    var current = null;
    function update() {
      var line = window.innerHeight * 0.3, pick = heads[0];
      heads.forEach(function (h) { if (h.getBoundingClientRect().top <= line) pick = h; });
      if (!pick || pick.id === current) return;
      current = pick.id;
      links.forEach(function (a) {
        if (a.getAttribute("data-section") === current) a.setAttribute("aria-current", "location");
        else a.removeAttribute("aria-current");
      });
    }
    var io = new IntersectionObserver(update, { rootMargin: "0px 0px -70% 0px" });
    heads.forEach(function (h) { io.observe(h); });
    update();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", markSections);
  else markSections();
  // After a validation error the page comes back with messages beside the
  // fields, often far below where it opens: an error summary at the top of
  // the form links to each field, and focus moves to it.
  function fieldOf(err) {
    var box = err.closest(".field, fieldset") || err.parentElement;
    return box && box.querySelector("input:not([type=hidden]), select, textarea");
  }
  function labelOf(field) {
    var box = field.closest(".field, fieldset");
    var legend = box && box.tagName === "FIELDSET" && box.querySelector("legend");
    var label = field.id && document.querySelector('label[for="' + field.id + '"]');
    var text = (legend || label || {}).textContent || field.getAttribute("aria-label") || field.name;
    return text.replace(/\s+/g, " ").replace(/\*$/, "").trim();
  }
  function summarizeErrors(root) {
    var ready = root.querySelector(".error-summary");
    if (ready) { ready.focus(); return; }
    var errs = Array.prototype.filter.call(root.querySelectorAll("form .field-error"), function (e) {
      return !e.hidden && e.textContent.trim() !== "";
    });
    if (!errs.length) return;
    var form = errs[0].closest("form");
    var box = document.createElement("div");
    box.className = "error-summary";
    box.setAttribute("tabindex", "-1");
    box.setAttribute("role", "alert");
    box.setAttribute("data-testid", "error-summary");
    var title = document.createElement("p");
    title.className = "error-summary-title";
    title.textContent = errs.length === 1 ? "One thing to fix:" : errs.length + " things to fix:";
    box.appendChild(title);
    var list = document.createElement("ul");
    errs.forEach(function (err) {
      if (err.closest("form") !== form) return;
      // A button that moves the focus (an href="#id" would also scroll,
      // but leaves the focus behind).
      var field = fieldOf(err), li = document.createElement("li"), a = document.createElement("button");
      a.type = "button";
      a.className = "link";
      a.textContent = (field ? labelOf(field) + ": " : "") + err.textContent.trim();
      a.addEventListener("click", function () {
        if (!field) return;
        field.focus();
        field.scrollIntoView({ block: "center" });
      });
      li.appendChild(a);
      list.appendChild(li);
    });
    box.appendChild(list);
    form.insertBefore(box, form.firstChild);
    box.focus();
  }
  function startSummaries() { summarizeErrors(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startSummaries);
  else startSummaries();
  document.addEventListener("htmx:afterSwap", function (e) { summarizeErrors(e.target); });

  // A quiz with unanswered questions asks before grading them as wrong.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-quiz]")) return;
    var open = 0, all = form.querySelectorAll("fieldset");
    all.forEach(function (fs) {
      var done = Array.prototype.some.call(fs.querySelectorAll("input"), function (i) {
        return (i.type === "radio" || i.type === "checkbox") ? i.checked : i.value.trim() !== "";
      });
      if (!done) open++;
    });
    if (open > 0 && open < all.length && !window.confirm(open + " of " + all.length +
        " questions have no answer and will count as wrong. Grade the quiz now?")) e.preventDefault();
  });
})();
