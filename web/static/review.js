// Flashcard review from the keyboard, as in Anki: Space shows the answer,
// then 1 to 4 answer Again, Hard, Good or Easy. The page works without it.
(function () {
  "use strict";
  var details = document.querySelector('[data-testid="card-details"]');
  if (!details) return;
  function typing(t) {
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key === " " || e.key === "Spacebar") {
      if (details.open) return;
      e.preventDefault(); // no scrolling, and no second toggle from a focused summary
      details.open = true;
      var good = details.querySelector('button[data-key="3"]');
      if (good) good.focus({ preventScroll: true });
      details.scrollIntoView({ block: "nearest" });
      return;
    }
    if (!details.open || !/^[1-4]$/.test(e.key)) return;
    var button = details.querySelector('button[data-key="' + e.key + '"]');
    if (!button || button.disabled) return;
    e.preventDefault();
    button.form.querySelectorAll("button").forEach(function (b) { b.disabled = b !== button; });
    button.form.requestSubmit(button);
  });
})();
