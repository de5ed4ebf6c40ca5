/*! visitor-stats: Busuanzi drop-in (README, "Moving from your old counter") */
// Served with comment lines and indentation stripped (api/routes/busuanzi.py), so keep every
// comment on a line of its own. ES5, and every entry point wrapped: nothing throws into the page.
//
//   <script async src="https://STATS-HOST/busuanzi.js" data-site="SITE"></script>
//
// counts the pageview and fills what the themes write for the original script:
// <span id="busuanzi_value_site_pv"></span> (site_pv, site_uv, page_pv), each shown once
// filled with its <span id="busuanzi_container_site_pv" style="display:none"> wrapper.
(function (w, d) {
  try {
    var S = d.currentScript || d.querySelector('script[data-site][src*="busuanzi.js"]');
    var site = S && S.getAttribute('data-site');
    if (!site || w.visitorStatsBusuanzi) return;
    w.visitorStatsBusuanzi = 1;
    var api = S.getAttribute('data-api') || S.src.replace(/\/busuanzi\.js([?#].*)?$/, '');
    var N = navigator, L = location;
    // The numbers are shown either way; a browser that asks not to be tracked is not counted.
    var quiet = N.globalPrivacyControl || N.doNotTrack == '1' || w.doNotTrack == '1' || N.webdriver;
    var keys = ['site_pv', 'site_uv', 'page_pv'];
    var name = 'BusuanziCallback_' + Math.floor(Math.random() * 1e12);
    var tag = d.createElement('script');
    function ready(f) {
      if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', f);
      else f();
    }
    function done() {
      try { delete w[name]; } catch (e) { w[name] = undefined; }
      if (tag.parentNode) tag.parentNode.removeChild(tag);
    }
    function fill(data) {
      for (var i = 0, k, v, c; i < keys.length; i++) {
        k = keys[i];
        v = d.getElementById('busuanzi_value_' + k);
        c = d.getElementById('busuanzi_container_' + k);
        if (typeof data[k] != 'number') continue;
        if (v) v.textContent = String(data[k]);
        if (c) c.style.display = 'inline';
      }
    }
    w[name] = function (data) {
      try {
        ready(function () {
          try { fill(data || {}); } catch (e) {}
        });
      } catch (e) {}
      done();
    };
    tag.async = true;
    tag.onerror = done;
    tag.src = api + '/busuanzi?jsonpCallback=' + name + '&site=' + encodeURIComponent(site) +
      '&url=' + encodeURIComponent(L.href) + (quiet ? '&count=0' : '');
    (d.head || d.documentElement).appendChild(tag);
  } catch (e) {}
})(window, document);
