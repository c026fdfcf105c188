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

// CSV export of every table, built in the browser from the table as shown: the same rows
// the signed-in user sees (their tenant, their role), names from a roster included, and
// nothing asked of the server again. Form controls in a cell are not data.
function odlarCsvCell(text) {
  // a formula-looking cell would run in a spreadsheet: keep it text (numbers stay numbers)
  if (/^[=+\-@\t\r]/.test(text) && isNaN(Number(text))) text = "'" + text;
  return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}

function odlarCellText(cell) {
  var copy = cell.cloneNode(true);
  copy.querySelectorAll("form, button, input, select, textarea, label").forEach(function (x) {
    x.remove();
  });
  return copy.textContent.replace(/\s+/g, " ").trim();
}

function odlarTableCsv(table) {
  return Array.prototype.map.call(table.rows, function (row) {
    return Array.prototype.map.call(row.cells, function (c) {
      return odlarCsvCell(odlarCellText(c));
    }).join(",");
  }).join("\r\n") + "\r\n";
}

function odlarExports(root) {
  var base = (document.title.split(" · ")[0] || "table").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "table";
  var tables = document.querySelectorAll("main table");
  (root || document).querySelectorAll("main table").forEach(function (table) {
    if (table.dataset.export || !table.tBodies.length) return;
    table.dataset.export = "1";
    var n = Array.prototype.indexOf.call(tables, table) + 1;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "export";
    button.textContent = "Export CSV";
    button.setAttribute("aria-label", "Export this table as CSV");
    button.addEventListener("click", function () {
      // a byte-order mark: spreadsheets then read names in any script as UTF-8
      var blob = new Blob(["\uFEFF" + odlarTableCsv(table)], {type: "text/csv;charset=utf-8"});
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = base + (tables.length > 1 ? "-" + n : "") + ".csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });
    table.insertAdjacentElement("afterend", button);
  });
}
document.addEventListener("DOMContentLoaded", function () { odlarExports(document); });
document.addEventListener("htmx:afterSettle", function (e) { odlarExports(e.target); });
