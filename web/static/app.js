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
})();
