// Draw every Plotly figure described in a data-figure attribute, on load and after htmx swaps.
function odlarDraw(root) {
  (root || document).querySelectorAll("[data-figure]").forEach(function (el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "1";
    var fig = JSON.parse(el.dataset.figure);
    Plotly.newPlot(el, fig.data, fig.layout || {}, {responsive: true, displaylogo: false});
  });
}
document.addEventListener("DOMContentLoaded", function () { odlarDraw(document); });
document.addEventListener("htmx:afterSwap", function (e) { odlarDraw(e.target); });
