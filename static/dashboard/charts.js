// Draw every chart whose figure JSON sits in a <script id="<chart id>-data"> tag.
(function () {
  "use strict";
  function draw(root) {
    var tags = root.querySelectorAll('script[type="application/json"][id$="-data"]');
    tags.forEach(function (tag) {
      var target = document.getElementById(tag.id.slice(0, -"-data".length));
      if (!target || !window.Plotly) { return; }
      var figure = JSON.parse(tag.textContent);
      // The x values every trace shares come once, beside the traces (charts.shared_x).
      if (figure.x) {
        figure.data.forEach(function (trace) { if (!trace.x) { trace.x = figure.x; } });
      }
      // A constant uirevision keeps the user's zoom, pan and legend selection when the
      // 30 s refresh brings new data; Plotly.react updates the chart in place.
      var layout = Object.assign({}, figure.layout, { uirevision: target.id });
      window.Plotly.react(target, figure.data, layout, { responsive: true, displaylogo: false });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  // The auto-refresh swaps in new figure JSON: draw it.
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();
