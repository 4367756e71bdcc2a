// The shop lab's pictures: an order's saga timeline of steps (with
// compensations), and stock as stacked bars of available, reserved and
// sold against the initial stock. The lab page calls this with each poke's
// answer (see labs.Pictured).
(function () {
  window.labPictures = window.labPictures || {};

  function timeline(box, v, el) {
    var last = Math.max(1, v.steps[v.steps.length - 1].after_ms || 0);
    var ol = el("ol", "timeline");
    ol.setAttribute("aria-label", "Saga steps of " + (v.order_id || "the order"));
    v.steps.forEach(function (st) {
      var li = el("li", "tl-step" + (st.compensation ? " compensation" : "") + (/fail|declin|cancel|reject/i.test(st.outcome || "") ? " bad" : ""));
      var bar = el("span", "tl-bar");
      bar.style.width = Math.max(2, Math.round(100 * (st.after_ms || 0) / last)) + "%";
      li.appendChild(el("span", "tl-time", "+" + (st.after_ms || 0) + " ms"));
      li.appendChild(el("span", "tl-service", st.service || ""));
      li.appendChild(el("span", "tl-name", (st.compensation ? "↺ " : "") + st.step + (st.outcome ? ": " + st.outcome : "")));
      li.appendChild(bar);
      ol.appendChild(li);
    });
    box.appendChild(el("p", "small", "Order " + (v.order_id || "") + ": " + (v.status || "") + (v.settle_ms != null ? ", settled in " + v.settle_ms + " ms" : "")));
    box.appendChild(ol);
  }

  function stock(box, rows, el) {
    rows.forEach(function (r) {
      var total = (r.initial || (r.available + r.reserved + r.sold)) || 1;
      var fig = el("div", "stock" + (r.available < 0 || r.reserved < 0 || r.sold < 0 || r.available + r.reserved + r.sold !== total ? " broken" : ""));
      fig.appendChild(el("span", "stock-label", (r.name || ("product " + r.product_id)) + ": " + r.available + " available + " + r.reserved + " reserved + " + r.sold + " sold = " +
        (r.available + r.reserved + r.sold) + " of " + total));
      var bar = el("span", "stock-bar");
      [["available", r.available], ["reserved", r.reserved], ["sold", r.sold]].forEach(function (p) {
        var seg = el("span", "seg " + p[0]);
        seg.style.width = Math.max(0, 100 * p[1] / total) + "%";
        seg.title = p[0] + " " + p[1];
        bar.appendChild(seg);
      });
      fig.appendChild(bar);
      box.appendChild(fig);
    });
  }

  window.labPictures.shop = function (box, v, el) {
    if (Array.isArray(v.steps) && v.steps.length) {
      timeline(box, v, el);
      return true;
    }
    var rows = [];
    if (typeof v.available === "number") rows = [v];
    else if (Array.isArray(v.products)) rows = v.products;
    else if (Array.isArray(v.inventory)) rows = v.inventory;
    rows = rows.filter(function (r) { return r && typeof r.available === "number"; });
    if (!rows.length) return false;
    stock(box, rows, el);
    return true;
  };
})();
