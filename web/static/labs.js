// Live lab panels: charts drawn with uPlot from the instance's event stream,
// pokes that show the raw HTTP response, and server-side load runs.
(function () {
  "use strict";
  var KEEP = 600; // 60 s of 100 ms buckets

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function Panel(root) {
    this.root = root;
    this.lab = root.getAttribute("data-lab");
    this.id = root.getAttribute("data-id");
    this.base = "/api/labs/" + this.lab + "/instances/" + this.id;
    this.specs = JSON.parse(root.getAttribute("data-charts") || "[]");
    root.__panel = this; // for debugging from the console
    this.charts = [];
    this.xs = [];
    this.buildCharts();
    this.connect();
    this.wirePokes();
    this.wireLoad();
  }

  Panel.prototype.buildCharts = function () {
    var box = this.root.querySelector(".charts");
    var self = this;
    this.specs.forEach(function (spec) {
      var wrap = el("figure", "chart");
      wrap.setAttribute("data-chart", spec.title);
      wrap.appendChild(el("figcaption", "small", spec.title));
      box.appendChild(wrap);
      var series = [{}];
      spec.series.forEach(function (name, i) {
        var s = { label: name, stroke: chartTheme.series(i), width: 2, spanGaps: false };
        if (spec.kind === "state") {
          s.paths = uPlot.paths.stepped({ align: 1 });
          s.value = function (u, v) { return v == null ? "–" : (spec.levels || [])[v] || v; };
        } else if (spec.kind === "latency") {
          s.value = function (u, v) { return v == null ? "–" : v.toFixed(2) + " ms"; };
        }
        series.push(s);
      });
      var axes = [chartTheme.axis(), chartTheme.axis()];
      if (spec.kind === "state" && spec.levels) {
        axes[1] = chartTheme.axis({ values: function (u, vals) { return vals.map(function (v) { return spec.levels[v] || ""; }); }, size: 80,
          splits: function () { return spec.levels.map(function (_, i) { return i; }); } });
      }
      var opts = {
        width: Math.max(260, wrap.clientWidth || 320), height: 170, series: series, axes: axes,
        scales: { x: { time: true }, y: spec.kind === "state" ? { range: [-0.2, (spec.levels || [1]).length - 0.8] } : { auto: true } },
        legend: { live: true }, cursor: { drag: { x: false, y: false } }
      };
      var data = [[]].concat(spec.series.map(function () { return []; }));
      var u = chartTheme.track(new uPlot(opts, data, wrap));
      self.charts.push({ spec: spec, u: u, data: data, wrap: wrap });
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        self.charts.forEach(function (c) { c.u.setSize({ width: Math.max(260, c.wrap.clientWidth), height: 170 }); });
      }).observe(box);
    }
  };

  Panel.prototype.add = function (pt, redraw) {
    // Running totals per series, on the panel's element, for the page's
    // readers and for tests: data-sum-allowed="37".
    var root = this.root;
    this.counted().forEach(function (name) {
      var v = pt.v[name];
      if (v == null || !isFinite(v)) return;
      var key = "sum-" + name.replace(/[^a-z0-9]/gi, "-");
      root.setAttribute("data-" + key, String((parseFloat(root.getAttribute("data-" + key)) || 0) + v));
    });
    this.charts.forEach(function (c) {
      c.data[0].push(pt.t / 1000);
      c.spec.series.forEach(function (name, i) {
        var v = pt.v[name];
        c.data[i + 1].push(v == null ? null : v);
      });
      if (c.data[0].length > KEEP) c.data.forEach(function (arr) { arr.shift(); });
      if (redraw) c.u.setData(c.data);
    });
  };

  // counted lists the series of count charts: the ones worth a total.
  Panel.prototype.counted = function () {
    if (!this.countSeries) {
      var out = [];
      this.specs.forEach(function (s) { if (s.kind === "count") out = out.concat(s.series); });
      this.countSeries = out;
    }
    return this.countSeries;
  };

  Panel.prototype.log = function (e) {
    var list = this.root.querySelector(".events");
    var li = el("li", "event-" + e.kind);
    var t = new Date(e.t);
    li.appendChild(el("time", "muted", t.toLocaleTimeString()));
    li.appendChild(document.createTextNode(" " + e.msg));
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 200) list.removeChild(list.lastChild);
  };

  Panel.prototype.connect = function () {
    var self = this;
    var es = new EventSource(this.base + "/events");
    this.es = es;
    es.addEventListener("init", function (ev) {
      var m = JSON.parse(ev.data);
      (m.points || []).forEach(function (p) { self.add(p, false); });
      self.charts.forEach(function (c) { c.u.setData(c.data); });
      (m.events || []).forEach(function (e) { self.log(e); });
      self.root.setAttribute("data-live", "true");
    });
    es.addEventListener("point", function (ev) { self.add(JSON.parse(ev.data), true); });
    es.addEventListener("log", function (ev) { self.log(JSON.parse(ev.data)); });
    es.addEventListener("end", function () { es.close(); self.root.setAttribute("data-live", "ended"); });
  };

  function rawResponse(resp, text) {
    var lines = ["HTTP/1.1 " + resp.status + " " + resp.statusText];
    var skip = { "content-security-policy": 1, "permissions-policy": 1, "cross-origin-opener-policy": 1, "x-frame-options": 1, "referrer-policy": 1 };
    resp.headers.forEach(function (v, k) { if (!skip[k]) lines.push(k + ": " + v); });
    var body = text;
    try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
    return lines.join("\n") + "\n\n" + body;
  }

  // picture asks the lab's own script (served with the lab page when the
  // lab has one, see labs.Pictured) to draw an answer better than its
  // JSON: a saga's timeline, stock as bars.
  function picture(box, lab, text) {
    box.textContent = "";
    box.hidden = true;
    var draw = (window.labPictures || {})[lab];
    if (typeof draw !== "function") return;
    var v;
    try { v = JSON.parse(text); } catch (e) { return; }
    if (!v || typeof v !== "object") return;
    if (draw(box, v, el)) box.hidden = false;
    else box.textContent = "";
  }

  Panel.prototype.wirePokes = function () {
    var self = this;
    var out = this.root.querySelector(".response");
    var pic = el("div", "picture");
    pic.hidden = true;
    pic.setAttribute("data-testid", "poke-picture");
    out.parentNode.insertBefore(pic, out);
    this.root.querySelectorAll("form.poke").forEach(function (form) {
      var poke = JSON.parse(form.getAttribute("data-poke"));
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var path = poke.path.replace(/\{(\w+)\}/g, function (_, name) {
          var input = form.querySelector('input[name="' + name + '"]');
          return encodeURIComponent(input ? input.value : "");
        });
        var init = { method: poke.method, headers: { Accept: "application/json" } };
        var body = form.querySelector("textarea[name=body]");
        if (body) { init.body = body.value; init.headers["Content-Type"] = "application/json"; }
        out.textContent = poke.method + " " + self.base + "/" + path + " …";
        fetch(self.base + "/" + path, init).then(function (resp) {
          return resp.text().then(function (text) {
            out.textContent = rawResponse(resp, text);
            out.setAttribute("data-status", resp.status);
            picture(pic, self.lab, text);
          });
        }).catch(function (err) { out.textContent = "request failed: " + err; });
      });
    });
  };

  Panel.prototype.wireLoad = function () {
    var self = this;
    var form = this.root.querySelector("form.load");
    var out = form.querySelector(".load-result");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var spec = {};
      ["requests", "concurrency", "rate_per_s", "keys"].forEach(function (k) {
        spec[k] = parseInt(form.querySelector('input[name="' + k + '"]').value, 10) || 0;
      });
      var dist = form.querySelector('select[name="distribution"]');
      if (dist) spec.distribution = dist.value;
      var button = form.querySelector("button");
      button.disabled = true;
      out.textContent = "running…";
      fetch(self.base + "/load", { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(spec) })
        .then(function (resp) { return resp.text().then(function (t) { out.textContent = rawResponse(resp, t); out.setAttribute("data-status", resp.status); }); })
        .catch(function (err) { out.textContent = "load run failed: " + err; })
        .then(function () { button.disabled = false; });
    });
  };

  function start() {
    if (typeof uPlot === "undefined") return;
    document.querySelectorAll(".instance[data-id]").forEach(function (root) { new Panel(root); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
