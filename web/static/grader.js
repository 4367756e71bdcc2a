// Submission pages: check charts drawn with uPlot, and live progress while
// the grader works (the server streams a change; the page fetches the
// rendered results and swaps them in).
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("figure.check-chart[data-chart]").forEach(function (fig) {
      if (fig.getAttribute("data-drawn")) return;
      var spec;
      try { spec = JSON.parse(fig.getAttribute("data-chart")); } catch (e) { return; }
      if (!spec || !spec.x || !spec.x.length) return;
      var series = [{ label: spec.x_label || "x" }];
      var data = [spec.x];
      (spec.series || []).forEach(function (s, i) {
        series.push({ label: s.name, stroke: chartTheme.series(i), width: 2,
          fill: i === 0 ? "rgba(37,99,235,.08)" : undefined });
        data.push(s.values);
      });
      if (spec.limit != null) {
        series.push({ label: "requirement", stroke: chartTheme.muted, dash: [6, 4], width: 1.5 });
        data.push(spec.x.map(function () { return spec.limit; }));
      }
      var width = Math.max(260, Math.min(fig.clientWidth || 600, 720));
      var u = chartTheme.track(new uPlot({
        width: width, height: 190,
        scales: { x: { time: false } },
        axes: [chartTheme.axis({ label: spec.x_label || "" }), chartTheme.axis({ label: spec.y_label || "", labelSize: 18, size: chartTheme.fitSize })],
        series: series
      }, data, fig));
      fig.setAttribute("data-drawn", "1");
      new ResizeObserver(function () {
        u.setSize({ width: Math.max(260, Math.min(fig.clientWidth, 720)), height: 190 });
      }).observe(fig);
    });
  }

  function live(box) {
    var events = box.getAttribute("data-events");
    var results = box.getAttribute("data-results");
    if (!events || !results || typeof EventSource === "undefined") return;
    var es = new EventSource(events);
    // One fetch at a time; a change heard meanwhile fetches once more after
    // it. "done" marks the page finished once the last fetch has landed.
    var busy = false, again = false, finished = false;
    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(results, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html != null) {
            var tmp = document.createElement("div");
            tmp.innerHTML = html;
            var next = tmp.querySelector("#results");
            var cur = box.querySelector("#results");
            if (next && cur) {
              // Logs the reader opened stay open.
              cur.querySelectorAll("details[data-testid][open]").forEach(function (d) {
                var same = next.querySelector('details[data-testid="' + d.getAttribute("data-testid") + '"]');
                if (same) same.open = true;
              });
              cur.replaceWith(next);
            }
            drawCharts(box);
          }
        })
        .finally(function () {
          busy = false;
          if (again) { again = false; refresh(); }
          else if (finished) box.setAttribute("data-live", "done");
        });
    }
    es.addEventListener("update", refresh);
    es.addEventListener("done", function () { finished = true; es.close(); refresh(); });
    box.setAttribute("data-live", "on");
  }

  function init() {
    var box = document.getElementById("submission");
    if (!box) return;
    drawCharts(box);
    live(box);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
