/*! visitor-stats widget (docs/EMBED.md) */
// Renders the "Thống kê truy cập" box into every <div data-visitor-stats-widget data-site=…>.
// It builds the box in a shadow root from one GET /api/stats: the host page's CSS cannot
// break it, the --vs-* custom properties still reach it (they inherit through the shadow
// boundary), and it takes the height of its rows, which an iframe cannot.
// Served with comment lines and indentation stripped: keep every comment on its own line.
(function (w, d) {
  function noop() {}
  function safe(f) {
    return function () {
      try { return f.apply(this, arguments); } catch (e) {}
    };
  }
  safe(function () {
    var S = d.currentScript || d.querySelector('script[src*="widget.js"]');
    var api = S && (S.getAttribute('data-api') || S.src.replace(/\/widget\.js([?#].*)?$/, ''));
    // Replaced by api/static/widget.css when the file is loaded.
    var CSS = "__WIDGET_CSS__";
    var LABELS = {
      vi: { title: 'Thống kê truy cập', online: 'Đang online', today: 'Hôm nay', yesterday: 'Hôm qua',
        week: 'Trong tuần', month: 'Trong tháng', total: 'Tất cả' },
      en: { title: 'Visitor statistics', online: 'Online now', today: 'Today', yesterday: 'Yesterday',
        week: 'This week', month: 'This month', total: 'All time' }
    };
    var ORDER = ['online', 'today', 'yesterday', 'week', 'month', 'total'];
    var ls;
    try { ls = w.localStorage; } catch (e) {}

    function el(tag, text) {
      var e = d.createElement(tag);
      if (text != null) e.textContent = text;
      return e;
    }
    function render(host) {
      var site = host.getAttribute('data-site');
      if (!site || host.visitorStatsBox) return;
      var lang = host.getAttribute('data-lang') == 'en' ? 'en' : 'vi', T = LABELS[lang];
      var sep = host.getAttribute('data-grouping') || (lang == 'en' ? ',' : '.');
      var extra = (host.getAttribute('data-rows') || '').split(/[\s,]+/);
      var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
      var box = el('section'), dl = el('dl'), cells = {}, fresh = {}, c;
      host.visitorStatsBox = box;
      box.className = 'vs';
      box.lang = lang;
      box.setAttribute('aria-label', T.title);
      box.appendChild(el('h2', T.title));
      dl.setAttribute('aria-live', 'polite');
      ORDER.forEach(function (k) {
        if ((k == 'yesterday' || k == 'month') && extra.indexOf(k) < 0) return;
        var row = el('div');
        row.className = 'vs-row';
        row.appendChild(el('dt', T[k]));
        row.appendChild(cells[k] = el('dd', '\u2013'));
        cells[k].setAttribute('data-key', k);
        dl.appendChild(row);
      });
      box.appendChild(dl);
      var style = el('style', CSS);
      root.appendChild(style);
      root.appendChild(box);
      function show(o, mark) {
        for (var k in cells) {
          if (typeof o[k] != 'number' || (!mark && fresh[k])) continue;
          cells[k].textContent = String(o[k]).replace(/\B(?=(\d{3})+(?!\d))/g, sep);
          if (mark) fresh[k] = 1;
        }
      }
      // The last numbers this browser saw (shared with tracker.js), until the answer comes.
      try { c = JSON.parse(ls.getItem('vs:' + site)); } catch (e) {}
      if (c) show(c);
      // tracker.js's pageview answer is fresher than the summary: it wins over it.
      d.addEventListener('visitor-stats', safe(function (e) {
        if (e.detail && e.detail.site == site) show(e.detail.numbers, 1);
      }));
      if (w.fetch && api) {
        fetch(api + '/api/stats?site=' + encodeURIComponent(site), { credentials: 'omit' })
          .then(function (r) { return r.status == 200 && r.json(); })
          .then(safe(function (o) { if (o) show(o); }))['catch'](noop);
      }
    }
    function all() {
      for (var e = d.querySelectorAll('[data-visitor-stats-widget]'), i = 0; i < e.length; i++) {
        safe(render)(e[i]);
      }
    }
    if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', safe(all));
    else all();
  })();
})(window, document);
