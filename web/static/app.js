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
})();
