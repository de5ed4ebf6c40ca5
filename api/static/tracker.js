/*! visitor-stats tracker (docs/EMBED.md) */
// Served with comment lines and indentation stripped (api/routes/embed.py), so keep every
// comment on a line of its own. ES5 on purpose: a syntax error in an old browser would reach
// the page's error handlers. Every entry point is wrapped, so nothing throws into the page.
(function (w, d) {
  var N = navigator, L = location;
  function noop() {}
  function safe(f) {
    return function () {
      try { return f.apply(this, arguments); } catch (e) {}
    };
  }
  safe(function () {
    var S = d.currentScript || d.querySelector('script[data-site][src*="tracker.js"]');
    var site = S && S.getAttribute('data-site');
    var seen = w.visitorStats = w.visitorStats || {};
    // One tracker per site, even when the snippet is pasted twice. (A browser without JSON
    // stops at its first use, inside safe().) The entry holds fill(): widget.js's live stream
    // refills the spans through it (data-live), so the snippet needs no stream of its own.
    if (!site || seen[site]) return;
    seen[site] = fill;
    var api = S.getAttribute('data-api') || S.src.replace(/\/tracker\.js([?#].*)?$/, '');
    var sep = S.getAttribute('data-grouping');
    var CK = 'vs:' + site, LK = 'vs:hb:' + site, ls;
    try { ls = w.localStorage; } catch (e) {}
    var local = /^(localhost|127(\.\d+){3}|\[::1\])$|\.localhost$/.test(L.hostname);
    // Not counted, but the numbers are still shown: privacy signals, automation, local pages.
    var quiet = N.globalPrivacyControl || N.doNotTrack == '1' || w.doNotTrack == '1' ||
      N.webdriver || !/^https?:$/.test(L.protocol) || local && !S.hasAttribute('data-allow-localhost');
    var ref = d.referrer, at = path(), started;

    function path() { return L.pathname + L.search; }
    function get(k) { try { return JSON.parse(ls.getItem(k)); } catch (e) {} }
    function put(k, v) { try { ls.setItem(k, JSON.stringify(v)); } catch (e) {} }
    // A span with data-url shows another page's views (a list page): pages() fills those.
    function els() { return d.querySelectorAll('[data-visitor-stats]:not([data-url])'); }
    function kind(e) { return e.getAttribute('data-visitor-stats'); }
    // The last numbers this browser saw; a page's views belong to that page only. Also the
    // site's digit grouping (g), as the last /api/stats answer's display said.
    function cached() {
      var c = get(CK) || {};
      if (c.p != path()) delete c.page_views;
      return c;
    }
    function put1(e, n) {
      if (typeof n == 'number') e.textContent = String(n).replace(/\B(?=(\d{3})+(?!\d))/g, sep || cached().g || '.');
      else if (!/\S/.test(e.textContent)) e.textContent = '\u2013';
    }
    function show(c) {
      for (var e = els(), i = 0; i < e.length; i++) put1(e[i], c[kind(e[i])]);
    }
    function fill(o, keys) {
      var c = cached();
      for (var k in o) if (typeof o[k] == 'number' && (!keys || keys.indexOf(k) >= 0)) c[k] = o[k];
      if (o.display) c.g = o.display.grouping;
      c.p = path();
      put(CK, c);
      show(c);
      // widget.js listens, so the box and the spans show the same numbers.
      d.dispatchEvent(new CustomEvent('visitor-stats', { detail: { site: site, numbers: c } }));
    }
    function call(url, opts, then) {
      if (w.fetch) fetch(api + url, opts).then(function (r) {
        return r.status < 205 && r.json();
      }).then(safe(function (o) { o && then && then(o); }))['catch'](noop);
    }
    // Everything for a visitor we do not count; after a pageview, only the figures its answer
    // lacks (yesterday, last_week, last_month): the summary may not hold the pageview yet.
    // Replaced by api/display.py's PREVIOUS_PERIODS when the file is loaded.
    var PREVIOUS = "__PREVIOUS_PERIODS__";
    function stats(keys) {
      var q = '/api/stats?site=' + encodeURIComponent(site);
      if (!keys && d.querySelector('[data-visitor-stats=page_views]:not([data-url])')) q += '&url=' + encodeURIComponent(L.href);
      if (els().length) call(q, { credentials: 'omit' }, function (o) { fill(o, keys); });
    }
    // Every data-url span's page (the first 100) in one read; reading never counts.
    function pages() {
      var q = '', i, e = d.querySelectorAll('[data-visitor-stats=page_views][data-url]');
      for (i = 0; i < e.length && i < 100; i++) q += '&url=' + encodeURIComponent(e[i].getAttribute('data-url'));
      if (q) call('/api/stats/pages?site=' + encodeURIComponent(site) + q, { credentials: 'omit' }, function (o) {
        for (i = 0; i < e.length; i++) put1(e[i], o.page_views[e[i].getAttribute('data-url')]);
      });
    }
    // A string body goes as text/plain: a CORS "simple" request, with no preflight. The page's
    // title is for the most viewed lists: cut to 200, without the control characters or the
    // half of a cut emoji that the service would refuse the hit for.
    function send(event, then) {
      var body = JSON.stringify({ site: site, url: L.href, referrer: ref || undefined, event: event,
        title: d.title.slice(0, 200).replace(/[\0-\x1f\x7f-\x9f]|[\ud800-\udbff]$/g, '') || undefined });
      if (then || !N.sendBeacon || !N.sendBeacon(api + '/api/hit', body)) {
        call('/api/hit', { method: 'POST', body: body, keepalive: true, credentials: 'omit' }, then);
      }
    }
    function pageview() {
      send('pageview', function (o) {
        // 202: the store is away and the hit waits in the spool; the box is read instead.
        if (o.spooled) return stats();
        fill(o);
        for (var e = els(), i = 0, need = [], k; i < e.length; i++) {
          k = kind(e[i]);
          if (typeof o[k] != 'number' && PREVIOUS.indexOf(k) >= 0) need.push(k);
        }
        if (need.length) stats(need);
      });
    }
    // Single-page sites: one pageview per change of path or query, however many calls.
    function route() {
      if (path() == at) return;
      ref = L.protocol + '//' + L.host + at;
      at = path();
      show(cached());
      pageview();
    }
    // Presence: one heartbeat stream per browser and site, from a visible tab. The tab that
    // beats holds a lease in localStorage; a hidden or closed tab gives it up, and a visible
    // one takes it when it is free or older than 1.5 beats. localStorage rather than Web
    // Locks: locks exist only in secure contexts, and many portals are still plain HTTP.
    function presence() {
      var ms = Math.max(15, +S.getAttribute('data-heartbeat') || 60) * 1e3;
      var id = Math.random().toString(36).slice(2), t;
      function tick(claimOnly) {
        var l = get(LK) || {}, now = Date.now();
        if (d.hidden || now - l.t < (l.id == id ? ms * 0.9 : ms * 1.5)) return;
        put(LK, { id: id, t: now });
        if (claimOnly !== 1) send('heartbeat');
      }
      function release() {
        var l = get(LK);
        if (l && l.id == id) ls.removeItem(LK);
      }
      function resume() {
        clearInterval(t);
        if (d.hidden) return release();
        tick();
        t = setInterval(safe(tick), ms);
      }
      d.addEventListener('visibilitychange', safe(resume));
      w.addEventListener('pagehide', safe(release));
      // The pageview has just said we are here: claim the lease without a beat.
      tick(1);
      if (!d.hidden) t = setInterval(safe(tick), ms);
    }
    function start() {
      if (d.prerendering || d.visibilityState == 'prerender' || started) return;
      started = 1;
      at = path();
      pages();
      if (quiet) return stats();
      pageview();
      presence();
      var H = w.history;
      ['pushState', 'replaceState'].forEach(function (m) {
        var orig = H[m];
        H[m] = function () {
          var r = orig.apply(this, arguments);
          safe(route)();
          return r;
        };
      });
      w.addEventListener('popstate', safe(route));
    }
    var go = safe(start);

    show(cached());
    // A prerendered page counts when (and if) the visitor actually opens it.
    d.addEventListener('prerenderingchange', go);
    d.addEventListener('visibilitychange', go);
    go();
  })();
})(window, document);
