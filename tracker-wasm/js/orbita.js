/* Orbita tracker stub: defines window.orbita, queues calls until the wasm tracker is loaded,
   then hands the queue over. Loaded with <script async src=".../orbita.js" data-write-key="...">. */
(function (w, d) {
  /* User Timing marks: the tracker's start-up cost shows in DevTools and in `cargo xtask bench tracker`. */
  var mark = function (n) { try { performance.mark('orbita:' + n); } catch (e) {} };
  var s = d.currentScript, base = s.src.replace(/[^/]*$/, ''), a = s.dataset;
  var o = w.orbita = w.orbita || function () { (o.q = o.q || []).push(arguments); };
  /* Shops moving from Yespo keep their eS(...) calls (data-yespo="on"). */
  var y = a.yespo === 'on' && (w.eS = w.eS || function () { (y.q = y.q || []).push(arguments); });
  var cfg = { writeKey: a.writeKey || '', endpoint: a.endpoint || new URL(base).origin, autoProduct: a.autoProduct || '',
    consent: a.consent || '', respectGpc: a.respectGpc || '', hashRouting: a.hashRouting || '' };
  /* The wasm download starts at once, beside the glue and the modules it imports. */
  function load(name) {
    var wasm = fetch(base + name + '_bg.wasm');
    return import(base + name + '.js').then(function (m) {
      return m.default({ module_or_path: wasm }).then(function () { return m; });
    });
  }
  /* The site configuration (widgets and their rules): a small GET the browser caches for a minute. */
  var sc = fetch(cfg.endpoint + '/v1/site-config?writeKey=' + encodeURIComponent(cfg.writeKey), { credentials: 'omit' })
    .then(function (r) { return r.ok ? r.json() : {}; })['catch'](function () { return {}; });
  /* The widgets module loads once, in a task of its own, not in the tracker's start-up. */
  var W, F;
  function widgets() {
    return W = W || new Promise(function (r) { setTimeout(r); }).then(function () { return load('widgets'); });
  }
  function forms() {
    return F = F || sc.then(function (c) { return widgets().then(function (m) { m.forms(cfg, w.orbita, c); return m; }); });
  }
  /* Mirrors protocol::site_config::url_matches: '*' is any run of characters, the rest is literal. */
  function match(p) {
    return RegExp('^' + p.split('*').map(function (x) { return x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'); }).join('.*') + '$').test(location.pathname);
  }
  load('tracker').then(function (t) {
    mark('loaded');
    var q = [], js = [];
    (o.q || []).forEach(function (c) { (c[0] == 'showWidget' ? js : q).push(c); });
    /* orbita('showWidget', id): the page opens a widget itself (the widgets module answers it). */
    w.orbita = function () {
      var c = [].slice.call(arguments);
      c[0] == 'showWidget' ? forms().then(function (m) { m.show(c[1]); }) : t.command(c);
    };
    w.orbita.anonymousId = t.anonymousId;
    w.orbita.pendingEvents = t.pendingEvents;
    w.orbita.consentState = t.consentState;
    w.orbita.debug = function (on) { t.command(['debug', on !== false]); };
    t.start(cfg, q, function () { widgets().then(function (m) { m.render(cfg, w.orbita); }); });
    mark('started');
    js.forEach(function (c) { w.orbita.apply(w, c); });
    /* Forms start only where the configuration has a widget whose paths include this page. */
    sc.then(function (c) {
      if ((c.widgets || []).some(function (x) {
        var r = x.rules || {}, i = r.urlInclude || [];
        return (!i.length || i.some(match)) && !(r.urlExclude || []).some(match);
      })) forms();
    });
    if (y) load('yespo').then(function (m) {
      var yq = w.eS.q || [];
      w.eS = function () { m.command([].slice.call(arguments), w.orbita); };
      for (var i = 0; i < yq.length; i++) w.eS.apply(w, yq[i]);
    });
  })['catch'](function (e) { console.warn('orbita: tracker failed to load', e); });
})(window, document);
