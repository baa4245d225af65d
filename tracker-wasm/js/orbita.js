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
  load('tracker').then(function (t) {
    mark('loaded');
    var q = o.q || [];
    w.orbita = function () { t.command([].slice.call(arguments)); };
    w.orbita.anonymousId = t.anonymousId;
    w.orbita.pendingEvents = t.pendingEvents;
    w.orbita.consentState = t.consentState;
    w.orbita.debug = function (on) { t.command(['debug', on !== false]); };
    /* The widgets load in a task of their own, not in the tracker's start-up. */
    t.start(cfg, q, function () {
      setTimeout(function () { load('widgets').then(function (m) { m.render(cfg, w.orbita); }); });
    });
    mark('started');
    if (y) load('yespo').then(function (m) {
      var yq = w.eS.q || [];
      w.eS = function () { m.command([].slice.call(arguments), w.orbita); };
      for (var i = 0; i < yq.length; i++) w.eS.apply(w, yq[i]);
    });
  })['catch'](function (e) { console.warn('orbita: tracker failed to load', e); });
})(window, document);
