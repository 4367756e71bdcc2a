// Mock interviews: the session's countdown, and the diagram board's
// pointer editor (mouse, pen and touch). Without this script the clock
// shows the time left when the page was drawn and the list editor edits
// the diagram.
(function () {
  "use strict";

  function clock() {
    var el = document.getElementById("interview-clock");
    if (!el || el.dataset.running !== "true") return;
    var end = Date.now() + Number(el.dataset.remainingMs);
    function show() {
      var ms = end - Date.now(), over = ms < 0;
      var s = Math.floor(Math.abs(ms) / 1000);
      el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") + (over ? " over time" : " left");
    }
    show();
    setInterval(show, 1000);
  }

  var NS = "http://www.w3.org/2000/svg";
  var W = 140, H = 50;

  function svgEl(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function clip(a, b) {
    var dx = b.x - a.x, dy = b.y - a.y;
    if (!dx && !dy) return [a.x, a.y];
    var t = Math.min(dx ? (W / 2) / Math.abs(dx) : Infinity, dy ? (H / 2) / Math.abs(dy) : Infinity, 1);
    return [Math.round(a.x + t * dx), Math.round(a.y + t * dy)];
  }

  function Board(host) {
    this.host = host;
    this.url = host.dataset.url;
    this.stage = host.dataset.stage;
    this.d = JSON.parse(host.dataset.diagram || '{"nodes":[],"edges":[]}');
    this.kind = null;       // the palette kind chosen for the next tap
    this.selected = null;   // the first box of an arrow being drawn
    this.titles = {};       // palette kind → its name
    this.status = document.querySelector('[data-testid="diagram-status-' + this.stage + '"]');
    this.tools();
    this.draw();
  }

  Board.prototype.say = function (msg) { if (this.status) this.status.textContent = msg; };

  Board.prototype.tools = function () {
    var self = this, bar = document.createElement("div");
    bar.className = "diagram-tools";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", "Palette: choose a kind, then tap the board");
    var label = document.createElement("input");
    label.setAttribute("aria-label", "Label for the next box or arrow");
    label.placeholder = "label";
    label.maxLength = 40;
    label.setAttribute("data-testid", "board-label");
    bar.appendChild(label);
    this.label = label;
    var kinds = [];
    Array.prototype.forEach.call(document.getElementById("node-kind-" + this.stage).options, function (o) {
      kinds.push({ id: o.value, title: o.textContent });
      self.titles[o.value] = o.textContent;
    });
    kinds.forEach(function (k) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "ghost";
      b.textContent = k.title;
      b.setAttribute("aria-pressed", "false");
      b.setAttribute("data-kind", k.id);
      b.addEventListener("click", function () {
        var on = self.kind !== k.id;
        bar.querySelectorAll("button[data-kind]").forEach(function (o) { o.setAttribute("aria-pressed", "false"); });
        self.kind = on ? k.id : null;
        b.setAttribute("aria-pressed", on ? "true" : "false");
        self.say(on ? "Tap the board to place a " + k.title + "." : "");
      });
      bar.appendChild(b);
    });
    this.host.parentNode.insertBefore(bar, this.host);
  };

  Board.prototype.node = function (id) {
    return this.d.nodes.filter(function (n) { return n.id === id; })[0];
  };

  Board.prototype.point = function (ev) {
    var r = this.svg.getBoundingClientRect();
    return {
      x: Math.max(0, Math.min(960, Math.round((ev.clientX - r.left) * 960 / r.width))),
      y: Math.max(0, Math.min(600, Math.round((ev.clientY - r.top) * 600 / r.height)))
    };
  };

  Board.prototype.draw = function () {
    var self = this;
    this.host.textContent = "";
    var svg = svgEl("svg", { "class": "diagram-svg", viewBox: "0 0 960 600", role: "img",
      "aria-label": "Diagram with " + this.d.nodes.length + " boxes and " + this.d.edges.length + " arrows",
      "data-testid": "diagram-svg-" + this.stage }, this.host);
    this.svg = svg;
    var defs = svgEl("defs", {}, svg);
    var m = svgEl("marker", { id: "arrow-" + this.stage, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8,
      markerHeight: 8, orient: "auto-start-reverse" }, defs);
    svgEl("path", { d: "M0,0 L10,5 L0,10 z", "class": "arrow-head" }, m);
    this.d.edges.forEach(function (e) {
      var a = self.node(e.from), b = self.node(e.to);
      if (!a || !b) return;
      var p = clip(a, b), q = clip(b, a);
      var g = svgEl("g", { "class": "edge", "data-testid": "diagram-edge" }, svg);
      svgEl("line", { x1: p[0], y1: p[1], x2: q[0], y2: q[1], "marker-end": "url(#arrow-" + self.stage + ")" }, g);
      if (e.label) svgEl("text", { x: (p[0] + q[0]) / 2, y: (p[1] + q[1]) / 2 - 6, "text-anchor": "middle" }, g).textContent = e.label;
    });
    this.d.nodes.forEach(function (n) {
      var g = svgEl("g", { "class": "node kind-" + n.kind + (self.selected === n.id ? " selected" : ""), "data-id": n.id,
        "data-testid": "diagram-node" }, svg);
      svgEl("rect", { x: n.x - W / 2, y: n.y - H / 2, width: W, height: H, rx: 6 }, g);
      svgEl("text", { "class": "kind", x: n.x, y: n.y - H / 2 + 16, "text-anchor": "middle" }, g).textContent = self.titles[n.kind] || n.kind;
      svgEl("text", { x: n.x, y: n.y - H / 2 + 36, "text-anchor": "middle" }, g).textContent = n.label;
      self.dragging(g, n);
    });
    svg.addEventListener("click", function (ev) {
      if (ev.target !== svg || !self.kind) return;
      var p = self.point(ev), lbl = self.label.value.trim() || self.kind;
      var id, i = self.d.nodes.length + 1;
      do { id = "n" + i++; } while (self.node(id));
      self.d.nodes.push({ id: id, kind: self.kind, label: lbl.slice(0, 40), x: p.x, y: p.y });
      self.label.value = "";
      self.save("Added " + lbl + ".");
    });
  };

  // dragging moves a box with the pointer; a press without a move selects
  // it, and a second box selected joins the two with an arrow.
  Board.prototype.dragging = function (g, n) {
    var self = this, start = null, moved = false;
    g.addEventListener("pointerdown", function (ev) {
      ev.preventDefault();
      start = self.point(ev);
      moved = false;
      g.setPointerCapture(ev.pointerId);
    });
    g.addEventListener("pointermove", function (ev) {
      if (!start) return;
      var p = self.point(ev);
      if (!moved && Math.abs(p.x - start.x) + Math.abs(p.y - start.y) < 6) return;
      moved = true;
      n.x = p.x; n.y = p.y;
      var r = g.querySelector("rect"), ts = g.querySelectorAll("text");
      r.setAttribute("x", n.x - W / 2); r.setAttribute("y", n.y - H / 2);
      ts[0].setAttribute("x", n.x); ts[0].setAttribute("y", n.y - H / 2 + 16);
      ts[1].setAttribute("x", n.x); ts[1].setAttribute("y", n.y - H / 2 + 36);
    });
    g.addEventListener("pointerup", function () {
      if (!start) return;
      start = null;
      if (moved) { self.save("Moved " + n.label + "."); return; }
      if (!self.selected) { self.selected = n.id; self.draw(); self.say("Now tap the box the arrow goes to."); return; }
      if (self.selected === n.id) { self.selected = null; self.draw(); self.say(""); return; }
      var lbl = self.label.value.trim().slice(0, 40);
      self.d.edges.push({ from: self.selected, to: n.id, label: lbl });
      self.selected = null;
      self.label.value = "";
      self.save("Joined the boxes.");
    });
  };

  Board.prototype.save = function (done) {
    var self = this, body = new URLSearchParams();
    body.set("op", "replace");
    body.set("diagram", JSON.stringify(this.d));
    this.draw();
    fetch(this.url, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (!res.ok) {
          var e = res.j.error || {}, f = e.fields || {};
          self.say(Object.keys(f).map(function (k) { return f[k]; }).join(" ") || e.message || "Not saved.");
          return;
        }
        self.d = res.j.diagram;
        self.draw();
        self.say(done + " Saved.");
        return self.refreshList();
      })
      .catch(function () { self.say("Not saved: the server did not answer. Try again."); });
  };

  // refreshList redraws the list editor from the page as the server now
  // renders it, so both editors show the same diagram.
  Board.prototype.refreshList = function () {
    var id = "diagram-list-" + this.stage;
    return fetch(location.pathname, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(id), old = document.getElementById(id);
      if (fresh && old) old.replaceWith(fresh);
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    clock();
    document.querySelectorAll("[data-board]").forEach(function (host) {
      if (document.getElementById("node-kind-" + host.dataset.stage)) new Board(host);
    });
  });
})();
