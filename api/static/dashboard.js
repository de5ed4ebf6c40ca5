// The site owner's dashboard: reads /api/dashboard/{site} and draws it (api/routes/dashboard.py).
// The chart is uPlot (api/static/vendor), loaded before this file.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("vs-config").textContent);
  var T = config.texts;
  var storeKey = "visitor-stats-token:" + config.site;
  var main = document.getElementById("vs-main");
  var form = document.getElementById("vs-token");
  var failure = document.getElementById("vs-error");
  var days = config.default_days;
  var token = null;
  var chart = null;

  // The owner's link carries the read token in its fragment (#token=...): a fragment is never
  // sent to a server, so the token reaches no access log. It is kept for this tab only, and
  // taken out of the address bar so that a copied link does not carry it.
  function tokenFromLink() {
    var given = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (!given) return false;
    token = decodeURIComponent(given[1]);
    try { sessionStorage.setItem(storeKey, token); } catch (e) { /* private mode: this page only */ }
    history.replaceState(null, "", location.pathname + location.search);
    return true;
  }
  if (!tokenFromLink()) {
    try { token = sessionStorage.getItem(storeKey); } catch (e) { token = null; }
  }

  function grouped(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, config.grouping);
  }

  function cell(row, text, number) {
    var td = document.createElement("td");
    td.textContent = number ? grouped(text) : text;
    if (number) td.className = "num";
    row.appendChild(td);
  }

  function fill(tableId, rows) {
    var body = document.querySelector("#" + tableId + " tbody");
    body.textContent = "";
    if (!rows.length) {
      var tr = body.insertRow();
      var td = tr.insertCell();
      td.colSpan = 4;
      td.className = "none";
      td.textContent = T.none;
      return;
    }
    rows.forEach(function (values) {
      var tr = body.insertRow();
      values.forEach(function (v, i) { cell(tr, v, i > 0); });
    });
  }

  function authHeaders() {
    return token ? { Authorization: "Bearer " + token } : {};
  }

  function query() {
    return "?days=" + days;
  }

  function askForToken(why) {
    main.hidden = true;
    form.hidden = false;
    document.getElementById("vs-token-why").textContent = why;
    document.getElementById("vs-token-input").focus();
  }

  function cards(summary) {
    var box = document.getElementById("vs-cards");
    box.textContent = "";
    config.rows.forEach(function (key) {
      var card = document.createElement("div");
      card.className = "card";
      card.dataset.key = key;
      var label = document.createElement("span");
      label.className = "label";
      label.textContent = config.labels[key];
      var value = document.createElement("strong");
      value.textContent = grouped(summary[key] || 0);
      card.appendChild(label);
      card.appendChild(value);
      box.appendChild(card);
    });
  }

  // The chart as wide as its panel: at a phone width too, never wider (no sideways scroll).
  var CHART_HEIGHT = 280;
  var chartBox = document.getElementById("vs-chart");

  function chartWidth() {
    return chartBox.clientWidth;
  }

  // The date axis in the page's language. uPlot's own labels are American ("12/3"), which a
  // Vietnamese reader takes for 12 March: on a Vietnamese page the days are day/month
  // ("3/12"), months month/year ("12/2026"); an English page keeps uPlot's labels.
  var DAY_S = 86400;

  // The rows are days: ticks a day apart or more (uPlot's own steps from a day up), never
  // hours between two points.
  var MONTH_S = 30 * DAY_S;
  var YEAR_S = 365 * DAY_S;
  var DAY_STEPS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15].map(function (n) { return n * DAY_S; })
    .concat([1, 2, 3, 4, 6].map(function (n) { return n * MONTH_S; }))
    .concat([1, 2, 5, 10, 25, 50, 100].map(function (n) { return n * YEAR_S; }));

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function vietnameseDates(u, splits, axis, space, incr) {
    var lastYear = null;
    return splits.map(function (ts) {
      var at = new Date(ts * 1000); // read in UTC, as tzDate draws them (the site's days)
      var year = at.getUTCFullYear();
      var label;
      if (incr >= YEAR_S) return String(year);
      if (incr >= 28 * DAY_S) {
        label = pad(at.getUTCMonth() + 1) + "/" + year;
      } else {
        label = at.getUTCDate() + "/" + (at.getUTCMonth() + 1);
        // The year under the first day, and under the first day of a new year (as uPlot does).
        if (year !== lastYear) label += "\n" + year;
      }
      lastYear = year;
      return label;
    });
  }

  // What the date axis drew, beside its canvas: the ticks' times and labels, for a reader of
  // the page (and its tests) that cannot read text out of pixels.
  function noteTicks(u) {
    var axis = u.axes[0];
    var splits = axis._splits || [];
    var values = axis._values || [];
    chartBox.dataset.xTicks = JSON.stringify(splits.map(function (ts, i) {
      return [ts, values[i] == null ? null : String(values[i])];
    }));
  }

  function draw(rows) {
    var xs = rows.map(function (r) { return Date.parse(r.date + "T00:00:00Z") / 1000; });
    var data = [
      xs,
      rows.map(function (r) { return r.visits; }),
      rows.map(function (r) { return r.pageviews; })
    ];
    if (chart) {
      // Another range: the same chart and canvas, with the new days and scales.
      chart.setData(data);
    } else {
      chart = new uPlot({
        width: chartWidth(),
        height: CHART_HEIGHT,
        // The rows are local days of the site: drawn as dates, whatever the browser's zone.
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
        cursor: { points: { size: 6 } },
        scales: { x: { time: true } },
        series: [
          { label: T.date, value: "{YYYY}-{MM}-{DD}" },
          { label: T.visits, stroke: "#b91c1c", fill: "rgba(185, 28, 28, 0.10)", width: 2,
            value: function (u, v) { return v == null ? "–" : grouped(v); } },
          { label: T.pageviews, stroke: "#1d4ed8", width: 2,
            value: function (u, v) { return v == null ? "–" : grouped(v); } }
        ],
        hooks: { draw: [noteTicks] },
        axes: [
          config.lang === "vi"
            ? { stroke: "#475569", grid: { stroke: "#e2e8f0" }, incrs: DAY_STEPS,
                values: vietnameseDates }
            : { stroke: "#475569", grid: { stroke: "#e2e8f0" }, incrs: DAY_STEPS },
          { stroke: "#475569", grid: { stroke: "#e2e8f0" }, size: 60,
            values: function (u, ticks) { return ticks.map(grouped); } }
        ]
      }, data, chartBox);
    }
    chartBox.dataset.points = String(rows.length);
  }

  // Follows the panel's width (a turned phone, a narrower window, a scrollbar that appears):
  // resized in place, only when the width really changed. A resize event alone is no reason
  // to redraw (a full-page screenshot, a zoom send one with the same size), and the chart is
  // never rebuilt for it, so its canvas stays the same element.
  function fit() {
    var width = chartWidth();
    if (chart && width > 0 && width !== chart.width) {
      chart.setSize({ width: width, height: CHART_HEIGHT });
    }
  }

  function render(data) {
    form.hidden = true;
    failure.hidden = true;
    main.hidden = false;
    cards(data.summary);
    draw(data.rows);
    fill("vs-rows", data.rows.slice().reverse().map(function (r) {
      return [r.date, r.visits, r.pageviews, r.visitors];
    }));
    fill("vs-top", data.top_pages.map(function (p) { return [p.url, p.page_views]; }));
    document.getElementById("vs-top-period").textContent = config.labels[data.top_period] || "";
    document.getElementById("vs-excluded-period").textContent =
      config.labels[data.excluded_period] || "";
    var reasons = Object.keys(config.reasons).map(function (k) {
      return [config.reasons[k], data.excluded[k] || 0];
    });
    fill("vs-excluded", reasons);
    var updated = data.summary.updated_at;
    document.getElementById("vs-updated").textContent = updated
      ? T.updated + " " + updated.replace("T", " ").slice(0, 19) + (data.summary.stale ? " (" + T.stale + ")" : "")
      : "";
    main.dataset.from = data.from;
    main.dataset.to = data.to;
    main.setAttribute("aria-busy", "false");
  }

  function load() {
    main.setAttribute("aria-busy", "true");
    fetch("/api/dashboard/" + encodeURIComponent(config.site) + query(), { headers: authHeaders() })
      .then(function (answer) {
        if (answer.status === 401 || answer.status === 403) {
          askForToken(token ? T.bad_token : T.need_token);
          return null;
        }
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        return answer.json();
      })
      .then(function (data) { if (data) render(data); })
      .catch(function () {
        failure.textContent = T.error;
        failure.hidden = false;
        main.setAttribute("aria-busy", "false");
      });
  }

  function download() {
    var url = "/api/dashboard/" + encodeURIComponent(config.site) + "/export" + query() + "&format=csv";
    fetch(url, { headers: authHeaders() })
      .then(function (answer) {
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        return answer.blob();
      })
      .then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = config.site + "-" + main.dataset.from + "-" + main.dataset.to + ".csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
      })
      .catch(function () {
        failure.textContent = T.error;
        failure.hidden = false;
      });
  }

  document.querySelectorAll(".range button").forEach(function (button) {
    button.addEventListener("click", function () {
      days = Number(button.dataset.days);
      document.querySelectorAll(".range button").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b === button));
      });
      load();
    });
  });
  document.getElementById("vs-download").addEventListener("click", download);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    token = document.getElementById("vs-token-input").value.trim();
    try { sessionStorage.setItem(storeKey, token); } catch (e) { /* private mode: this page only */ }
    load();
  });
  // The link pasted into a tab that shows the dashboard already.
  window.addEventListener("hashchange", function () { if (tokenFromLink()) load(); });
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(fit).observe(chartBox);
  } else {
    window.addEventListener("resize", fit);
  }
  load();
})();
