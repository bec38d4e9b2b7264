// Draw every chart whose figure JSON sits in a <script id="<chart id>-data"> tag.
(function () {
  "use strict";
  function draw(root) {
    var tags = root.querySelectorAll('script[type="application/json"][id$="-data"]');
    tags.forEach(function (tag) {
      var target = document.getElementById(tag.id.slice(0, -"-data".length));
      if (!target || !window.Plotly) { return; }
      var figure = JSON.parse(tag.textContent);
      window.Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displaylogo: false });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  // The auto-refresh swaps in new figure JSON: draw it.
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();
