// Chart colours for uPlot from the page's CSS variables (--chart-*), read
// each time a chart draws, so axes, ticks, grid and series follow the light
// and the dark scheme like the rest of the page. Loaded before labs.js and
// grader.js.
(function () {
  "use strict";
  function css(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }
  function themed(name, fallback) { return function () { return css(name, fallback); }; }
  var charts = [];
  window.chartTheme = {
    // axis returns uPlot axis options drawn in the theme's colours.
    axis: function (opts) {
      opts = opts || {};
      opts.stroke = themed("--chart-text", "#4a5466");
      opts.grid = Object.assign({ stroke: themed("--chart-grid", "#e4e8ef"), width: 1 }, opts.grid || {});
      opts.ticks = Object.assign({ stroke: themed("--chart-grid", "#e4e8ef"), width: 1 }, opts.ticks || {});
      return opts;
    },
    // fitSize is an axis size that makes room for its longest tick label
    // and its rotated title, so neither is cut off at the chart's edge.
    fitSize: function (u, values, axisIdx, cycleNum) {
      var axis = u.axes[axisIdx];
      if (cycleNum > 1 && axis._size) return axis._size;
      var longest = "";
      (values || []).forEach(function (v) { if (v != null && String(v).length > longest.length) longest = String(v); });
      var size = (axis.ticks && axis.ticks.show === false ? 0 : (axis.ticks.size || 10)) + (axis.gap || 5) + 4;
      if (longest) {
        u.ctx.font = axis.font[0];
        size += u.ctx.measureText(longest).width / (window.devicePixelRatio || 1);
      }
      if (axis.label) size += (axis.labelSize || 30) + (axis.labelGap || 0);
      return Math.ceil(Math.max(size, 40));
    },
    // series is the colour of the i-th series (a function uPlot calls).
    series: function (i) { return themed("--chart-" + (i % 6 + 1), "#2f5bea"); },
    // muted draws reference lines such as a requirement.
    muted: themed("--chart-text", "#4a5466"),
    // track redraws the chart when the colour scheme changes.
    track: function (u) { charts.push(u); return u; }
  };
  if (window.matchMedia) {
    var mq = window.matchMedia("(prefers-color-scheme: dark)");
    var redraw = function () { charts.forEach(function (u) { u.redraw(false, true); }); };
    if (mq.addEventListener) mq.addEventListener("change", redraw);
  }
})();
