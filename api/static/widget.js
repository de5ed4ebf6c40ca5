/*! visitor-stats widget (docs/EMBED.md) */
// Renders the "Thống kê truy cập" box into every <div data-visitor-stats-widget data-site=…>,
// and the most viewed pages into every <div data-visitor-stats-top> (renderTop, below).
// With data-live, the box (and the snippet's spans) follow GET /api/stats/stream (live, below).
// It builds the box in a shadow root from one GET /api/stats: the host page's CSS cannot
// break it, the --vs-* custom properties still reach it (they inherit through the shadow
// boundary), and it takes the height of its rows, which an iframe cannot. Its language and
// digit grouping are the site's (the answer's display), unless data-lang / data-grouping
// say otherwise: the same rule as the server-rendered /widget/{site}.
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
    // Replaced by api/display.py when the file is loaded: the labels in each language, the
    // rows in order, and the rows shown only when data-rows asks for them.
    var LABELS = "__WIDGET_LABELS__";
    var ORDER = "__WIDGET_ROWS__";
    var OPTIONAL = "__WIDGET_OPTIONAL_ROWS__";
    // The most viewed block's words, by language (api/routes/embed.py's TOP_LABELS).
    var TOP = "__WIDGET_TOP_LABELS__";
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
      // The last numbers this browser saw (shared with tracker.js), and the site's display as
      // last seen (l, g), until the answer comes.
      var key = 'vs:' + site, c = {};
      try { c = JSON.parse(ls.getItem(key)) || c; } catch (e) {}
      var lang = host.getAttribute('data-lang'), sep = host.getAttribute('data-grouping');
      var extra = (host.getAttribute('data-rows') || '').split(/[\s,]+/);
      var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
      var box = el('section'), h2 = el('h2'), dl = el('dl'), dts = {}, cells = {}, fresh = {};
      var shown = {}, seen = c;
      host.visitorStatsBox = box;
      box.className = 'vs';
      box.appendChild(h2);
      dl.setAttribute('aria-live', 'polite');
      ORDER.forEach(function (k) {
        if (OPTIONAL.indexOf(k) >= 0 && extra.indexOf(k) < 0) return;
        var row = el('div');
        row.className = 'vs-row';
        row.appendChild(dts[k] = el('dt'));
        row.appendChild(cells[k] = el('dd', '\u2013'));
        cells[k].setAttribute('data-key', k);
        dl.appendChild(row);
      });
      box.appendChild(dl);
      root.appendChild(el('style', CSS));
      root.appendChild(box);
      // Words and digits: the attribute's, else the site's (l, g), else Vietnamese and dots.
      function draw() {
        var ok = /^(vi|en)$/, l = ok.test(lang) ? lang : ok.test(seen.l) ? seen.l : 'vi', T = LABELS[l], k;
        if (box.lang != l) {
          box.lang = l;
          box.setAttribute('aria-label', h2.textContent = T.title);
          for (k in dts) dts[k].textContent = T[k];
        }
        for (k in cells) {
          if (typeof shown[k] == 'number') {
            cells[k].textContent = String(shown[k]).replace(/\B(?=(\d{3})+(?!\d))/g, sep || seen.g || '.');
          }
        }
      }
      // mark: absent for a summary read as the page loaded; 1 for tracker.js's pageview
      // answer, fresher than that summary, so it wins over it; 2 for news (a live event or a
      // poll, read later), which wins over both.
      function show(o, mark) {
        for (var k in cells) {
          if (typeof o[k] != 'number' || (!mark && fresh[k])) continue;
          shown[k] = o[k];
          fresh[k] = mark == 1;
        }
        draw();
      }
      // An /api/stats answer: its figures, and the site's display.
      function take(o, mark) {
        var D = o.display;
        if (D) {
          seen = { l: D.locale, g: D.grouping };
          // Remembered beside tracker.js's numbers, so the next page starts right.
          try {
            c = JSON.parse(ls.getItem(key)) || {};
            c.l = seen.l;
            c.g = seen.g;
            ls.setItem(key, JSON.stringify(c));
          } catch (e) {}
        }
        show(o, mark);
      }
      show(c);
      d.addEventListener('visitor-stats', safe(function (e) {
        if (e.detail && e.detail.site == site) show(e.detail.numbers, 1);
      }));
      if (w.fetch && api) {
        read(site, take);
        if (host.hasAttribute('data-live')) {
          live(site, function (o, news) { take(o, news ? 2 : 0); });
        }
      }
    }
    // A poll (cache: 'no-cache') revalidates what the browser holds: /api/stats may be served
    // stale for 30 s while revalidating (stale-while-revalidate), which would show each poll
    // the answer of the one before. A CDN in front still answers it (a 304 when unchanged).
    function read(site, then, cache) {
      fetch(api + '/api/stats?site=' + encodeURIComponent(site), { credentials: 'omit', cache: cache })
        .then(function (r) { return r.status == 200 && r.json(); })
        .then(safe(function (o) { o && then(o); }))['catch'](noop);
    }
    // The live box: every data-live element of a site follows one stream, GET
    // /api/stats/stream, whose stats events carry the whole /api/stats answer whenever the
    // figures change. f(answer, news) is called with each; news is false only for the first
    // event of the page's first connection, the summary as the page loaded (which the box has
    // just read too, and the pageview's answer may be fresher than): the spans skip it, and
    // the box lets the pageview's figures win over it, as over its own first read.
    // Where EventSource is missing, or the stream stays silent for a poll interval (it gave up
    // after a 503, a proxy holds it back, or the figures did not move), the answer is polled.
    // EventSource hides the stream's keep-alive comments, so silence is all a page can see;
    // EventSource also reconnects by itself after a drop (the stream's retry:), and nothing
    // here interferes with it: polling only fills the gaps.
    var POLL_MS = 30000, feeds = {};
    function live(site, f) {
      if (feeds[site]) {
        feeds[site].push(f);
        return;
      }
      var fs = feeds[site] = [f], heard = 0, first = 1, es;
      function each(o, news) {
        for (var i = 0; i < fs.length; i++) safe(fs[i])(o, news);
      }
      if (w.EventSource) {
        es = new EventSource(api + '/api/stats/stream?site=' + encodeURIComponent(site));
        es.addEventListener('stats', safe(function (e) {
          var o = JSON.parse(e.data);
          heard = Date.now();
          each(o, !first);
          first = 0;
        }));
      }
      setInterval(safe(function () {
        if (Date.now() - heard >= POLL_MS) read(site, function (o) { each(o, 1); }, 'no-cache');
      }), POLL_MS);
    }
    // The most viewed pages (<div data-visitor-stats-top data-period="week" data-limit="5">):
    // an ordered list of links, each with its title and views, from one GET /api/stats/top.
    // Its site is its own data-site, else this script's or the snippet's. Titles come from
    // the pages' visitors' browsers: they are only ever set as text, never as HTML.
    function renderTop(host) {
      var T = d.querySelector('script[data-site][src*="tracker.js"]');
      var site = host.getAttribute('data-site') || S && S.getAttribute('data-site') || T && T.getAttribute('data-site');
      if (!site || host.visitorStatsTop || !w.fetch || !api) return;
      var c = {};
      try { c = JSON.parse(ls.getItem('vs:' + site)) || c; } catch (e) {}
      var ok = /^(vi|en)$/, lang = host.getAttribute('data-lang');
      var l = ok.test(lang) ? lang : ok.test(c.l) ? c.l : 'vi', W = TOP[l];
      var sep = host.getAttribute('data-grouping') || c.g || '.';
      var period = host.getAttribute('data-period') || 'today';
      var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
      var box = el('section'), h2 = el('h2', W.title + (W[period] ? ' \u00b7 ' + W[period] : ''));
      host.visitorStatsTop = box;
      box.className = 'vs';
      box.lang = l;
      box.setAttribute('aria-label', h2.textContent);
      box.appendChild(h2);
      root.appendChild(el('style', CSS));
      root.appendChild(box);
      var q = '/api/stats/top?site=' + encodeURIComponent(site) + '&period=' + encodeURIComponent(period);
      if (host.getAttribute('data-limit')) q += '&limit=' + encodeURIComponent(host.getAttribute('data-limit'));
      fetch(api + q, { credentials: 'omit' })
        .then(function (r) { return r.status == 200 && r.json(); })
        .then(safe(function (o) {
          if (!o) return;
          var ol = el(o.pages.length ? 'ol' : 'p', o.pages.length ? null : W.empty);
          ol.className = o.pages.length ? 'vs-top' : 'vs-empty';
          o.pages.forEach(function (p) {
            var li = el('li'), a = el('a', p.title || p.url);
            var n = el('span', String(p.page_views).replace(/\B(?=(\d{3})+(?!\d))/g, sep) + ' ' + W.views);
            a.href = p.url;
            n.className = 'vs-views';
            li.appendChild(a);
            li.appendChild(d.createTextNode(' '));
            li.appendChild(n);
            ol.appendChild(li);
          });
          box.appendChild(ol);
        }))['catch'](noop);
    }
    // The snippet's spans follow the stream when its tag or any of them has data-live: the
    // snippet (kept under 2 KB) has no stream of its own; it leaves its fill() in
    // window.visitorStats[site], and gets the news through it once it has run.
    function liveSpans() {
      var T = d.querySelector('script[data-site][src*="tracker.js"]');
      if (!T || T.visitorStatsLive || !w.fetch || !api) return;
      if (!T.hasAttribute('data-live') && !d.querySelector('[data-visitor-stats][data-live]')) return;
      var site = T.getAttribute('data-site');
      T.visitorStatsLive = 1;
      live(site, function (o, news) {
        var fill = w.visitorStats && w.visitorStats[site];
        if (news && typeof fill == 'function') fill(o);
      });
    }
    function all() {
      for (var e = d.querySelectorAll('[data-visitor-stats-widget]'), i = 0; i < e.length; i++) {
        safe(render)(e[i]);
      }
      for (e = d.querySelectorAll('[data-visitor-stats-top]'), i = 0; i < e.length; i++) {
        safe(renderTop)(e[i]);
      }
      safe(liveSpans)();
    }
    if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', safe(all));
    else all();
  })();
})(window, document);
