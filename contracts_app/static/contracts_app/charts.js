// Draw every chart whose figure the page holds in a json_script element.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-plotly]").forEach(function (el) {
    var source = document.getElementById(el.dataset.plotly);
    if (!source || !window.Plotly) { return; }
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(el, figure.data, figure.layout, {displaylogo: false, responsive: true});
  });
});
