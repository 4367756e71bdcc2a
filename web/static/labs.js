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
    this.key = root.getAttribute("data-key") ? JSON.parse(root.getAttribute("data-key")) : null;
    this.sums = {};
    root.__panel = this; // for debugging from the console
    this.charts = [];
    this.xs = [];
    this.buildCharts();
    this.connect();
    this.wirePokes();
    this.wireLoad();
  }

  // seriesName says a series in words: "decision_p99" is "p99 latency",
  // "store_errors" is "store errors".
  function seriesName(name) {
    var m = /_(p\d+)$/.exec(name);
    if (m) return m[1] + " latency";
    return name.replace(/_/g, " ");
  }

  // unitOf is what a chart's y axis counts.
  function unitOf(spec) {
    if (spec.kind === "latency") return "milliseconds";
    if (spec.kind === "count") return "per 100 ms";
    return "";
  }

  function clock(t) {
    var d = new Date(t * 1000);
    return String(d.getMinutes()).padStart(2, "0") + ":" + String(d.getSeconds()).padStart(2, "0");
  }

  // buildCharts draws each chart with its units, its series in words, a
  // legend that shows the latest values, a log-scale switch (a spike does
  // not flatten the rest), a note while it has no data, and its data as a
  // table for screen readers.
  Panel.prototype.buildCharts = function () {
    var box = this.root.querySelector(".charts");
    var self = this;
    this.specs.forEach(function (spec, n) {
      var wrap = el("figure", "chart");
      wrap.setAttribute("data-chart", spec.title);
      var cap = el("figcaption", "small");
      cap.appendChild(el("span", "chart-title", spec.title));
      var c = { spec: spec, data: [[]].concat(spec.series.map(function () { return []; })), wrap: wrap, log: false, seen: false };
      if (spec.kind !== "state") {
        var lab = el("label", "chart-log small");
        var cb = el("input");
        cb.type = "checkbox";
        cb.setAttribute("data-testid", "log-scale");
        cb.addEventListener("change", function () { c.log = cb.checked; self.drawChart(c); });
        lab.appendChild(cb);
        lab.appendChild(document.createTextNode(" log scale"));
        cap.appendChild(lab);
      }
      wrap.appendChild(cap);
      c.plot = el("div", "chart-plot");
      c.plot.setAttribute("aria-hidden", "true");
      wrap.appendChild(c.plot);
      c.empty = el("p", "chart-empty small", spec.kind === "state" ? "" : "Run a load or send a request to see data");
      c.empty.setAttribute("data-testid", "chart-empty");
      c.empty.hidden = spec.kind === "state";
      wrap.appendChild(c.empty);
      var alt = el("details", "chart-table small");
      alt.appendChild(el("summary", null, "Data as a table"));
      c.table = el("table");
      c.table.setAttribute("data-testid", "chart-table");
      alt.appendChild(c.table);
      alt.addEventListener("toggle", function () { if (alt.open) self.fillTable(c); });
      c.alt = alt;
      wrap.appendChild(alt);
      box.appendChild(wrap);
      self.drawChart(c);
      self.charts.push(c);
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        self.charts.forEach(function (c) { c.u.setSize({ width: Math.max(260, c.wrap.clientWidth - 10), height: 190 }); });
      }).observe(box);
    }
    setInterval(function () { self.charts.forEach(function (c) { if (c.alt.open) self.fillTable(c); }); }, 1000);
  };

  // drawChart (re)creates a chart's plot, on a linear or a log scale.
  Panel.prototype.drawChart = function (c) {
    var spec = c.spec;
    var series = [{ label: "time", value: function (u, v) { return v == null ? "–" : clock(v); } }];
    spec.series.forEach(function (name, i) {
      var s = { label: seriesName(name), stroke: chartTheme.series(i), width: 2, spanGaps: false };
      if (spec.kind === "state") {
        s.paths = uPlot.paths.stepped({ align: 1 });
        s.value = function (u, v) { return v == null ? "–" : (spec.levels || [])[v] || v; };
      } else if (spec.kind === "latency") {
        s.value = function (u, v) { return v == null ? "–" : fmtMS(v); };
      } else {
        s.value = function (u, v) { return v == null ? "–" : fmtInt(v); };
      }
      series.push(s);
    });
    var axes = [chartTheme.axis({ space: 70, incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600], values: function (u, vals) { return vals.map(clock); }, label: "time (min:s)", labelSize: 18 }),
      chartTheme.axis({ label: unitOf(spec), labelSize: 18, size: chartTheme.fitSize })];
    if (spec.kind === "state" && spec.levels) {
      axes[1] = chartTheme.axis({ values: function (u, vals) { return vals.map(function (v) { return spec.levels[v] || ""; }); }, size: 80,
        splits: function () { return spec.levels.map(function (_, i) { return i; }); } });
    }
    var y = spec.kind === "state" ? { range: [-0.2, (spec.levels || [1]).length - 0.8] } : { auto: true };
    if (c.log) y = { distr: 4, asinh: 1 };
    var opts = {
      width: Math.max(260, (c.wrap.clientWidth || 330) - 10), height: 190, series: series, axes: axes,
      scales: { x: { time: true }, y: y },
      legend: { live: true }, cursor: { drag: { x: false, y: false } },
      hooks: { setCursor: [function (u) { if (u.cursor.idx == null) latestLegend(u); }] }
    };
    if (c.u) c.u.destroy();
    c.u = chartTheme.track(new uPlot(opts, c.data, c.plot));
    latestLegend(c.u);
  };

  // latestLegend shows the latest values in the legend when the pointer
  // is not on the chart.
  function latestLegend(u) {
    var d = u.data, i = d[0].length - 1;
    while (i > 0 && !d.slice(1).some(function (s) { return s[i] != null; })) i--;
    if (i >= 0) u.setLegend({ idx: i });
  }

  // fillTable writes the chart's last ten buckets as a table.
  Panel.prototype.fillTable = function (c) {
    var t = c.table, spec = c.spec;
    t.textContent = "";
    var head = el("tr");
    head.appendChild(el("th", null, "time"));
    spec.series.forEach(function (name) { head.appendChild(el("th", null, seriesName(name) + (unitOf(spec) ? " (" + unitOf(spec) + ")" : ""))); });
    t.appendChild(head);
    var n = c.data[0].length;
    for (var i = Math.max(0, n - 10); i < n; i++) {
      var tr = el("tr");
      tr.appendChild(el("td", null, clock(c.data[0][i])));
      for (var k = 1; k < c.data.length; k++) {
        var v = c.data[k][i];
        tr.appendChild(el("td", null, v == null ? "–" : spec.kind === "state" ? (spec.levels || [])[v] || String(v) : String(Math.round(v * 100) / 100)));
      }
      t.appendChild(tr);
    }
    if (n === 0) {
      var none = el("tr");
      var td = el("td", null, "No data yet.");
      td.colSpan = spec.series.length + 1;
      none.appendChild(td);
      t.appendChild(none);
    }
  };

  Panel.prototype.add = function (pt, redraw) {
    this.lastT = pt.t;
    // Running totals per series, on the panel's element, for the page's
    // readers and for tests: data-sum-allowed="37".
    var root = this.root;
    this.counted().forEach(function (name) {
      var v = pt.v[name];
      if (v == null || !isFinite(v)) return;
      var key = "sum-" + name.replace(/[^a-z0-9]/gi, "-");
      root.setAttribute("data-" + key, String((parseFloat(root.getAttribute("data-" + key)) || 0) + v));
    });
    var sums = this.sums;
    Object.keys(pt.v).forEach(function (name) {
      var v = pt.v[name];
      if (v != null && isFinite(v)) sums[name] = (sums[name] || 0) + v;
    });
    this.latest = this.latest || {};
    var latest = this.latest;
    Object.keys(pt.v).forEach(function (name) { if (pt.v[name] != null) latest[name] = pt.v[name]; });
    if (redraw) this.showKey();
    this.charts.forEach(function (c) {
      c.data[0].push(pt.t / 1000);
      c.spec.series.forEach(function (name, i) {
        var v = pt.v[name];
        c.data[i + 1].push(v == null ? null : v);
      });
      if (c.data[0].length > KEEP) c.data.forEach(function (arr) { arr.shift(); });
      if (!c.seen && c.spec.series.some(function (name) { return pt.v[name]; })) {
        c.seen = true;
        c.empty.hidden = true;
      }
      if (redraw) {
        c.u.setData(c.data);
        if (c.u.cursor.idx == null) latestLegend(c.u);
      }
    });
  };

  // keyText is the lab's key number (Info.Key) from running totals since
  // the given ones ({} for since the start), or the latest values.
  Panel.prototype.keyText = function (since) {
    var k = this.key, sums = this.sums, latest = this.latest || {};
    if (!k) return "";
    since = since || {};
    function total(names) {
      return (names || []).reduce(function (acc, n) { return acc + (sums[n] || 0) - (since[n] || 0); }, 0);
    }
    if (k.kind === "totals") return k.of.map(function (n) { return fmtInt(total([n])); }).join(" / ");
    if (k.kind === "ratio") {
      var of = total(k.of), all = of + total(k.rest);
      return all > 0 ? (100 * of / all).toFixed(1) + "%" : "–";
    }
    var name = k.of[0], v = latest[name];
    if (v == null) return "–";
    var spec = this.specs.filter(function (s) { return s.series.indexOf(name) >= 0; })[0] || {};
    if (spec.kind === "state") return (spec.levels || [])[v] || String(v);
    if (spec.kind === "latency") return fmtMS(v);
    return fmtInt(v);
  };

  Panel.prototype.showKey = function () {
    var out = this.root.querySelector(".key-value");
    if (out) out.textContent = this.keyText();
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
    this.lastLogT = new Date(e.t).getTime();
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
      // After a reconnection (the replica shut down) the history comes
      // again: keep only what is newer than what the page has.
      var since = self.lastT == null ? -Infinity : self.lastT;
      var logSince = self.lastLogT == null ? -Infinity : self.lastLogT;
      (m.points || []).forEach(function (p) { if (p.t > since) self.add(p, false); });
      self.charts.forEach(function (c) { c.u.setData(c.data); latestLegend(c.u); });
      self.showKey();
      (m.events || []).forEach(function (e) { if (new Date(e.t).getTime() > logSince) self.log(e); });
      self.root.setAttribute("data-live", "true");
    });
    es.addEventListener("point", function (ev) { self.add(JSON.parse(ev.data), true); });
    es.addEventListener("log", function (ev) { self.log(JSON.parse(ev.data)); });
    es.addEventListener("end", function () { es.close(); self.root.setAttribute("data-live", "ended"); });
  };

  function fmtInt(v) { return Math.round(v).toLocaleString("en-US"); }
  function fmtMS(v) { return v < 10 ? v.toFixed(2) + " ms" : v < 100 ? v.toFixed(1) + " ms" : fmtInt(v) + " ms"; }

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
    box.removeAttribute("data-testid");
    var draw = (window.labPictures || {})[lab];
    if (typeof draw !== "function") return;
    var v;
    try { v = JSON.parse(text); } catch (e) { return; }
    if (!v || typeof v !== "object") return;
    if (draw(box, v, el)) { box.hidden = false; box.setAttribute("data-testid", "poke-picture"); }
    else box.textContent = "";
  }

  // wirePokes sends each poke and shows its answer under it, in its own
  // box: with many pokes, each response stays beside what sent it.
  Panel.prototype.wirePokes = function () {
    var self = this;
    this.root.querySelectorAll("form.poke").forEach(function (form) {
      var poke = JSON.parse(form.getAttribute("data-poke"));
      var out = form.querySelector(".response");
      var pic = el("div", "picture");
      pic.hidden = true;
      out.parentNode.insertBefore(pic, out);
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var path = poke.path.replace(/\{(\w+)\}/g, function (_, name) {
          var input = form.querySelector('input[name="' + name + '"]');
          return encodeURIComponent(input ? input.value : "");
        });
        var init = { method: poke.method, headers: { Accept: "application/json" } };
        var body = form.querySelector("textarea[name=body]");
        if (body) { init.body = body.value; init.headers["Content-Type"] = "application/json"; }
        out.hidden = false;
        out.removeAttribute("data-status");
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

  // wireLoad runs a load on the server and ends it as a summary card:
  // status counts, p50 and p99, the lab's key number over the run; the
  // raw response is one click away.
  Panel.prototype.wireLoad = function () {
    var self = this;
    var form = this.root.querySelector("form.load");
    var card = form.querySelector(".load-summary");
    var raw = form.querySelector(".load-raw");
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
      var before = Object.assign({}, self.sums);
      card.hidden = false;
      card.removeAttribute("data-status");
      card.textContent = "Running " + spec.requests + " requests…";
      fetch(self.base + "/load", { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(spec) })
        .then(function (resp) {
          return resp.text().then(function (t) {
            out.textContent = rawResponse(resp, t);
            out.setAttribute("data-status", resp.status);
            raw.hidden = false;
            var v = null;
            try { v = JSON.parse(t); } catch (e) { /* not JSON */ }
            self.loadCard(card, resp.status, v, before);
          });
        })
        .catch(function (err) { card.textContent = "The load run failed: " + err; })
        .then(function () { button.disabled = false; });
    });
  };

  // loadCard fills the summary card of a load run; the key number keeps
  // counting the run's last buckets as they arrive.
  Panel.prototype.loadCard = function (card, status, v, before) {
    var self = this;
    card.textContent = "";
    card.setAttribute("data-status", status);
    if (status !== 200 || !v || !v.by_status) {
      var msg = v && v.error && v.error.message ? v.error.message : "The load run was refused (HTTP " + status + ").";
      card.appendChild(el("p", "alert", msg));
      return;
    }
    var head = el("p", "load-head");
    head.appendChild(el("strong", null, fmtInt(v.requests) + " requests"));
    head.appendChild(document.createTextNode(" in " + (v.duration_ms / 1000).toFixed(1) + " s, " + fmtInt(v.achieved_rate_per_s) + " per second" +
      (v.stopped ? " (stopped early: " + v.stopped + ")" : "")));
    card.appendChild(head);
    var dl = el("dl", "load-stats");
    function stat(label, value, id) {
      var d = el("div");
      d.appendChild(el("dt", null, label));
      var dd = el("dd", null, value);
      if (id) dd.setAttribute("data-testid", id);
      d.appendChild(dd);
      dl.appendChild(d);
      return dd;
    }
    Object.keys(v.by_status).sort().forEach(function (code) {
      stat("HTTP " + code, fmtInt(v.by_status[code]), "load-status-" + code);
    });
    if (v.errors) stat("errors", fmtInt(v.errors), "load-errors");
    stat("p50", fmtMS(v.p50_ms), "load-p50");
    stat("p99", fmtMS(v.p99_ms), "load-p99");
    if (self.key) {
      var kd = stat(self.key.label, self.keyText(before), "load-key");
      var until = Date.now() + 1500;
      var tick = function () { // the run's last 100 ms buckets arrive just after it
        kd.textContent = self.keyText(before);
        if (Date.now() < until) setTimeout(tick, 250);
      };
      setTimeout(tick, 250);
    }
    card.appendChild(dl);
  };

  function start() {
    if (typeof uPlot === "undefined") return;
    document.querySelectorAll(".instance[data-id]").forEach(function (root) { new Panel(root); });
    // After a launch the page opens at the new instance: bring it into view
    // once its charts are drawn, and move the keyboard there.
    var m = /^#(instance-[\w-]+)$/.exec(location.hash);
    var target = m && document.getElementById(m[1]);
    if (target) {
      target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: "start" });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
