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

// A teacher's roster (CSV: pseudonym, name) read from a file they pick: it maps pseudonyms
// to names on the page and is kept in this tab's sessionStorage, never sent to the server.
var ODLAR_ROSTER = "odlar-roster";

function odlarRosterParse(text) {
  var lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter(function (l) { return l.trim(); });
  var cells = function (line) {
    return line.split(",").map(function (c) { return c.trim().replace(/^"(.*)"$/, "$1"); });
  };
  var head = cells(lines[0] || "").map(function (c) { return c.toLowerCase(); });
  var p = head.indexOf("pseudonym"), n = head.indexOf("name");
  if (p < 0 || n < 0) throw new Error("needs columns 'pseudonym' and 'name' in its first line");
  var names = {};
  lines.slice(1).forEach(function (line) {
    var row = cells(line);
    if (row[p] && row[n]) names[row[p]] = row[n];
  });
  return names;
}

function odlarRosterApply(root) {
  var names;
  try { names = JSON.parse(sessionStorage.getItem(ODLAR_ROSTER) || "{}"); } catch (e) { names = {}; }
  (root || document).querySelectorAll("[data-pseudonym]").forEach(function (el) {
    var name = names[el.dataset.pseudonym];
    if (name) { el.textContent = name; el.title = el.dataset.pseudonym; }
  });
  (root || document).querySelectorAll("[data-roster-axis]").forEach(function (el) {
    if (!el.data || !el.data[0] || !window.Plotly) return;
    var axis = el.dataset.rosterAxis, values = el.data[0][axis] || [], update = {};
    update[axis + "axis.tickmode"] = "array";
    update[axis + "axis.tickvals"] = values;
    update[axis + "axis.ticktext"] = values.map(function (v) { return names[v] || v; });
    Plotly.relayout(el, update);
  });
}

document.addEventListener("DOMContentLoaded", function () {
  odlarRosterApply(document);
  document.querySelectorAll("input[data-roster]").forEach(function (input) {
    input.addEventListener("change", function () {
      var file = input.files[0], status = document.querySelector("[data-roster-status]");
      if (!file) return;
      file.text().then(function (text) {
        try {
          var names = odlarRosterParse(text);
          sessionStorage.setItem(ODLAR_ROSTER, JSON.stringify(names));
          odlarRosterApply(document);
          if (status) status.textContent = Object.keys(names).length + " names from " + file.name;
        } catch (e) {
          if (status) status.textContent = file.name + ": " + e.message;
        }
      });
    });
  });
});
