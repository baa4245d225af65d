/* Orbita widgets, the browser half: fetching and drawing recommendation blocks, arming the
   triggers of the subscription forms and drawing them, and the web push subscription flow. The
   decisions are made in Rust (widgets/src: what a block asks for and what a card may show and
   report, the display rules, frequency caps, variants and the visitor's memory, what a push
   outcome means); this module watches the page, draws into shadow roots (the shop's CSS and ours
   never clash) and hands what a promise or an event settled back to the Rust side. It is
   JavaScript because fetch's and the push APIs' promises and every DOM callback wrapped for Rust
   cost the futures runtime and a closure shim each in the wasm and the glue (see
   ARCHITECTURE.md). Every text from a feed or the configuration is set as text, never as HTML. */

const w = window, d = document;

/* What the page settled goes back to the Rust side: the `_answer` export of the glue at `glue`
   (the module the page already loaded; one import, so answers keep their order). */
let rust;
const answer = (glue, what, result, ctx) => (rust = rust || import(glue)).then((m) => m._answer(what, result, ctx));

function el(tag, attrs, text) {
  const e = d.createElement(tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text) e.textContent = text;
  return e;
}

/* ---- Recommendation blocks ---- */

/* Cards sit in one horizontally scrolling row (a carousel on narrow screens), so the block's
   height never depends on the number of items or the screen width. Shops theme it with CSS
   custom properties on the placeholder. */
const CARDS_STYLE = ':host{display:block;contain:content}'
  + '.block{position:relative;font:var(--orbita-font,inherit);color:var(--orbita-text,inherit);overflow:hidden;box-sizing:border-box}'
  + 'h2{font-size:1.15em;margin:0 0 .6em;height:1.4em;line-height:1.4em;overflow:hidden;padding-right:72px}'
  + '.nav{position:absolute;top:3px;right:4px;display:flex;gap:6px}'
  + '.nav button{width:30px;height:30px;padding:0;border-radius:50%;border:1px solid var(--orbita-border,#e6e2da);'
  + 'background:var(--orbita-card-bg,#fff);color:inherit;font:inherit;font-size:18px;line-height:1;cursor:pointer}'
  + '.nav button:focus-visible{outline:2px solid var(--orbita-accent,#2f5d50);outline-offset:2px}'
  + 'ul{list-style:none;margin:0;padding:0 0 8px;display:flex;gap:16px;overflow-x:auto;scroll-snap-type:x mandatory}'
  + '@media (prefers-reduced-motion:no-preference){ul{scroll-behavior:smooth}}'
  + 'li{flex:0 0 var(--orbita-card-width,180px);scroll-snap-align:start}'
  + 'a{display:block;color:inherit;text-decoration:none;border-radius:var(--orbita-radius,10px);'
  + 'background:var(--orbita-card-bg,#fff);border:1px solid var(--orbita-border,#e6e2da);padding:10px;height:244px;box-sizing:border-box}'
  + 'a:hover,a:focus-visible{border-color:var(--orbita-accent,#2f5d50);outline:none}'
  + 'img{display:block;width:100%;height:150px;object-fit:cover;border-radius:6px;background:#f3f0ea}'
  + '.name{display:block;margin:8px 0 4px;font-size:.9em;line-height:1.25em;height:2.5em;overflow:hidden}'
  + '.price{font-weight:600;color:var(--orbita-accent,#2f5d50)}'
  + '.old{margin-left:6px;color:#8a857c;font-size:.85em}';

export function placeholders() {
  return [...d.querySelectorAll('[data-orbita-placement]')];
}

export function jsonLd() {
  const values = [];
  for (const s of d.querySelectorAll('script[type="application/ld+json"]')) {
    try { values.push(JSON.parse(s.textContent)); } catch (e) { /* not JSON: skipped */ }
  }
  return values;
}

/** GETs the block and hands it to the Rust side (`block`). */
export function fetchBlock(url, glue, ctx) {
  fetch(url).then((r) => (r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status))))
    .then((block) => answer(glue, 'block', block, ctx))
    .catch((e) => console.warn('orbita: recommendation block not shown:', e));
}

/** `url` resolved against the page: [protocol, href], or [] if it is no URL. */
export function resolve(url) {
  try { const u = new URL(url, location.href); return [u.protocol, u.href]; } catch (e) { return []; }
}

/** `amount` in `currency`, in the visitor's locale; undefined if Intl refuses the currency. One
    formatter per currency (making one costs far more than formatting with it). */
const formats = {};
export function money(amount, currency) {
  try {
    return (formats[currency] = formats[currency] || new Intl.NumberFormat(navigator.language, { style: 'currency', currency })).format(amount);
  } catch (e) { return undefined; }
}

/** Draws the block: `cards` are [name, href, src, price, old price, click event], `viewed` the
    impression event; an event is [name, properties], sent as orbita('track', name, a copy). */
export function drawBlock(host, recommId, cards, viewed, orbita) {
  const track = (event) => orbita && orbita('track', event[0], Object.assign({}, event[1]));
  const root = host.shadowRoot || host.attachShadow({ mode: 'open' });
  root.textContent = '';
  const section = el('section', { class: 'block' });
  /* Locked to the height the shop reserved, so drawing the block never shifts the page. */
  const reserved = host.clientHeight;
  if (reserved > 0) section.style.height = reserved + 'px';
  const title = host.getAttribute('data-orbita-title');
  if (title) {
    section.setAttribute('aria-label', title);
    section.append(el('h2', {}, title));
  }
  const list = el('ul');
  for (const [name, href, src, price, old, click] of cards) {
    const link = el('a');
    if (href) link.href = href;
    const img = link.appendChild(el('img', { alt: '', width: 158, height: 150, loading: 'lazy', decoding: 'async' }));
    if (src) img.src = src;
    link.append(el('span', { class: 'name' }, name));
    if (price) link.append(el('span', { class: 'price' }, price));
    if (old) link.append(el('s', { class: 'old' }, old));
    link.addEventListener('click', () => track(click));
    list.appendChild(el('li')).append(link);
  }
  /* Previous/next buttons scroll the row by about a screen of cards: native buttons (keyboard),
     labelled in the shop's language or English, over the heading row so they take no height. */
  const nav = el('div', { class: 'nav' });
  for (const [cls, attr, label, glyph, dir] of [['prev', 'previous', 'Previous products', '\u2039', -1], ['next', 'next', 'Next products', '\u203a', 1]]) {
    const button = nav.appendChild(el('button', { type: 'button', class: cls,
      'aria-label': (host.getAttribute('data-orbita-' + attr + '-label') || '').trim() || label }, glyph));
    button.addEventListener('click', () => list.scrollBy({ left: list.clientWidth * 0.9 * dir }));
  }
  section.append(nav, list);
  root.append(el('style', {}, CARDS_STYLE), section);
  host.setAttribute('data-orbita-recomm-id', recommId);
  host.setAttribute('data-orbita-state', 'shown');
  /* The impression, once at least half of the block is in the viewport (no scroll listener). */
  if (orbita && self.IntersectionObserver) {
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting && e.intersectionRatio >= 0.5)) {
        observer.disconnect();
        track(viewed);
      }
    }, { threshold: 0.5 });
    observer.observe(host);
  }
}

/* ---- Subscription forms and the push soft prompt ---- */

const FORMS_STYLE = ':host{all:initial;display:block}'
  + '.w{box-sizing:border-box;position:relative;font:var(--orbita-font,15px/1.45 system-ui,sans-serif);color:var(--orbita-text,#1f1d1a);background:var(--orbita-bg,#fff);border-radius:var(--orbita-radius,12px);padding:20px 22px}'
  + 'dialog.w{border:0;width:min(420px,calc(100vw - 32px))}'
  + 'dialog::backdrop{background:#0008}'
  + '.floating,.bar{position:fixed;z-index:2147483000}.w:not(.embedded){box-shadow:0 8px 40px #0005}.floating{width:min(340px,calc(100vw - 32px))}'
  + '.bottom-right,.bottom-left{bottom:16px}.top-right,.top-left{top:16px}.bottom-right,.top-right{right:16px}.bottom-left,.top-left{left:16px}'
  + '.bar{left:0;right:0;border-radius:0;padding:10px 52px 10px 16px}'
  + '.bar.top{top:0}.bar.bottom{bottom:0}'
  + '.bar form,.bar .head{display:inline-flex;flex-wrap:wrap;align-items:end;gap:4px 12px;vertical-align:middle}'
  + '.bar h2{font-size:1em;margin:0}.bar p{margin:0}.bar .f{margin:0}'
  + '.embedded{border:1px solid var(--orbita-border,#d8d2c6)}'
  + 'h2{margin:0 0 6px;font-size:1.25em;line-height:1.3;padding-right:28px}p{margin:0 0 8px}.f{margin:10px 0 0}'
  + 'label{display:block;font-weight:600;margin:0 0 4px;font-size:.9em}'
  + 'input:not([type=checkbox]){box-sizing:border-box;width:100%;min-width:180px;padding:9px 10px;border:1px solid var(--orbita-input-border,#767068);border-radius:6px;font:inherit;color:inherit;background:#fff}'
  + 'input[aria-invalid=true]{border-color:var(--orbita-error,#b3261e);border-width:2px}'
  + '.err{color:var(--orbita-error,#b3261e);font-size:.85em;margin:4px 0 0}.err:empty{display:none}'
  + '.c{display:flex;gap:8px;align-items:flex-start;margin-top:12px}.c label{font-weight:400;margin:0}.c input{width:20px;height:20px;margin:2px 0 0;flex:none}'
  + '.submit{margin-top:14px;background:var(--orbita-accent,#2f5d50);color:var(--orbita-accent-text,#fff);border:0;border-radius:6px;padding:10px 18px;min-height:40px;font:inherit;font-weight:600;cursor:pointer}'
  + '.x{position:absolute;top:8px;right:8px;width:32px;height:32px;border:0;border-radius:6px;background:transparent;color:inherit;font-size:22px;line-height:1;cursor:pointer}'
  + '.later{margin:14px 0 0 8px;background:transparent;color:inherit;border:1px solid currentColor;border-radius:6px;padding:9px 16px;min-height:40px;font:inherit;cursor:pointer}'
  + ':focus-visible{outline:3px solid var(--orbita-focus,#1a5fd0);outline-offset:2px}'
  + '[hidden]{display:none!important}';

const KEY = 'orbita_widgets', PKEY = 'orbita_visitor', mem = {};

/** What the rules need from the page: [path, mobile, cart value, segments]. The cart value and
    segments come from the page (window.orbitaWidgetContext = {cartValue: 84.5, segments: ['vip']})
    or else from the visitor's profile as fetched on the page before. When a `visitor` is given (a
    widget targets them), the profile is fetched anew (GET /v1/visitor) and [cart value,
    segments] handed to the rules (`visitor`) when it comes, or null if it failed or has not come
    within 5 s. */
export function page(settings, visitor, stored, glue) {
  const c = w.orbitaWidgetContext || {};
  const merged = (q) => [c.cartValue ?? q.cartValue, c.segments || q.segments || []];
  let p = {}, settled = 0;
  try { p = JSON.parse(keep(stored, undefined, PKEY) || '{}'); } catch (e) { /* none yet */ }
  if (visitor) {
    /* The answer, however late (it updates the rules for triggers still to come); or null once,
       if nothing came within 5 s (the widgets waiting for it decide on the last page's). */
    const settle = (q) => { if (q || !settled) answer(glue, 'visitor', q ? merged(q) : null); settled = 1; };
    setTimeout(settle, 5000);
    /* Asked again once, a second later, if the first answer failed. */
    const ask = (again) => fetch(settings.endpoint + '/v1/visitor?writeKey=' + encodeURIComponent(settings.writeKey)
      + '&anonymousId=' + encodeURIComponent(visitor), { credentials: 'omit' })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((t) => { keep(stored, t, PKEY); settle(JSON.parse(t)); })
      .catch((e) => (again ? settle() : setTimeout(ask, 1000, 1)));
    ask();
  }
  return [location.pathname, matchMedia('(max-width: 767px), (pointer: coarse)').matches, ...merged(p)];
}

/** Once the document is parsed: arms the trigger of each [id, rules] of `widgets`, or with `now`
    fires it at once (the page asked); a firing goes to the rules (`fire`). Without `now`, then
    marks that the triggers are armed: a User Timing mark (like the tracker's) and an event. */
export function start(widgets, now, glue) {
  const go = () => {
    for (const [id, rules] of widgets) {
      const fire = () => answer(glue, 'fire', now, id);
      now ? fire() : arm(rules, fire);
    }
    if (!now) {
      try { performance.mark('orbita:forms'); } catch (e) { /* old browser */ }
      d.dispatchEvent(new Event('orbita:ready'));
    }
  };
  d.readyState == 'loading' ? d.addEventListener('DOMContentLoaded', go) : go();
}

/** Whether this browser can subscribe to web push at all. */
export function pushApi() {
  return !!(w.PushManager && w.Notification);
}

/** The widget memory (rules.rs encodes it; `key` another record), in localStorage only while
    storage is allowed, else for this page: read (no `text`) or replaced. */
export function store(stored, text) {
  return keep(stored, text, KEY);
}

function keep(stored, text, key) {
  try {
    if (text === undefined) return (stored ? localStorage.getItem(key) : mem[key]) || '';
    if (stored) return localStorage.setItem(key, text), '';
  } catch (e) { /* blocked or full */ }
  mem[key] = text;
  return mem[key] || '';
}
const on = (target, name, f) => target.addEventListener(name, f, { passive: true });

/** Calls `fire()` once, when the widget's trigger (its `rules` in the configuration) says so. */
function arm(rules, fire) {
  const trigger = rules.trigger, value = rules.triggerValue || 0;
  let done = 0;
  const once = () => { if (!done++) fire(); };
  const ms = value * 1000;
  if (trigger == 'delay') setTimeout(once, ms);
  else if (trigger == 'scroll') {
    const check = () => {
      const h = d.documentElement.scrollHeight, view = w.innerHeight;
      if (h <= view || (w.scrollY + view) * 100 >= h * value) once();
    };
    check();
    if (!done) on(w, 'scroll', check);
  } else if (trigger == 'idle') {
    let timer;
    const restart = () => { clearTimeout(timer); if (!done) timer = setTimeout(once, ms); };
    restart();
    for (const name of ['mousemove', 'keydown', 'scroll', 'pointerdown', 'touchstart']) on(w, name, restart);
  } else if (trigger == 'exit') {
    on(d, 'mouseout', (e) => { if (!e.relatedTarget && e.clientY <= 0) once(); });
  } else if (trigger != 'js') once(); /* immediate, and pages (already counted by the caller) */
}

/** Draws `widget` (its configuration object; `variant` overrides texts and style) and answers
    the visitor; `settings` are the tracker's (`endpoint`, `writeKey`). What the visitor did goes
    to the rules (`done`, with [id, variant name]): `close` (closed without submitting), `closed`
    (closed after submitting), `submit`, or the push prompt's `allow`. Returns false if there is
    nowhere to draw. */
export function drawForm(widget, variant, settings, visitor, glue) {
  const kind = widget.kind, id = widget.id, modal = kind == 'popup', vname = variant ? variant.name : null;
  const done = (what) => answer(glue, 'done', what, [id, vname]);
  const t = (key, fallback) => (variant && variant.texts && variant.texts[key]) || (widget.texts || {})[key] || fallback;
  let host;
  if (kind == 'embedded') {
    host = d.querySelector('[data-orbita-widget="' + CSS.escape(id) + '"]');
    if (!host || host.shadowRoot) return false;
  } else {
    host = d.body.appendChild(el('div', { 'data-orbita-form': id }));
  }
  const root = host.attachShadow({ mode: 'open' });
  for (const style of [widget.style, variant && variant.style]) {
    for (const k in style || {}) if (k.startsWith('--orbita-')) host.style.setProperty(k, style[k]);
  }
  /* The web-push soft prompt is a floating box whose "allow" asks the browser (from this click). */
  const push = kind == 'push';
  const frame = el(modal ? 'dialog' : 'section', { class: 'w ' + (push ? 'floating' : kind) + ' '
    + (widget.position || (push ? 'bottom-right' : '')), 'aria-labelledby': 't' });
  const head = frame.appendChild(el('div', { class: 'head' }));
  head.appendChild(el('h2', { id: 't' }, t('title', 'Stay in touch')));
  if (t('body')) { head.appendChild(el('p', { id: 'd' }, t('body'))); frame.setAttribute('aria-describedby', 'd'); }
  const form = frame.appendChild(el('form', { novalidate: '' }));
  const fields = widget.fields || [];
  for (const f of fields) {
    const box = form.appendChild(el('div', { class: 'f' }));
    box.appendChild(el('label', { for: 'f-' + f.name }, f.label + (f.required ? ' *' : '')));
    const type = { email: 'email', phone: 'tel' }[f.type] || 'text';
    const input = box.appendChild(el('input', { id: 'f-' + f.name, name: f.name, type,
      autocomplete: { email: 'email', phone: 'tel', name: 'name' }[f.type] || 'off', 'aria-describedby': 'e-' + f.name }));
    if (f.required) input.required = true;
    box.appendChild(el('p', { id: 'e-' + f.name, class: 'err' }));
  }
  const consent = t('consent');
  if (consent) {
    const box = form.appendChild(el('div', { class: 'c' }));
    box.appendChild(el('input', { id: 'f-consent', name: 'consent', type: 'checkbox', required: '', 'aria-describedby': 'e-consent' }));
    box.appendChild(el('label', { for: 'f-consent' }, consent));
    form.appendChild(el('p', { id: 'e-consent', class: 'err' }));
  }
  form.appendChild(el('button', { type: 'submit', class: 'submit' }, t('button', push ? 'Allow notifications' : 'Subscribe')));
  if (push) form.appendChild(el('button', { type: 'button', class: 'later' }, t('later', 'Not now'))).onclick = () => finish();
  const status = frame.appendChild(el('p', { role: 'status', class: 'done' }));
  let close;
  if (kind != 'embedded') close = frame.appendChild(el('button', { type: 'button', class: 'x', 'aria-label': t('close', 'Close') }, '×'));
  root.append(el('style', {}, FORMS_STYLE), frame);

  const before = d.activeElement;
  let submitted = false, closed = false;
  const emit = (type) => host.dispatchEvent(new CustomEvent('orbita:' + type, { bubbles: true, composed: true,
    detail: { widgetId: id, kind, variant: vname } }));
  const finish = () => {
    if (closed) return;
    closed = true;
    if (modal && frame.open) frame.close();
    done(submitted ? 'closed' : 'close');
    emit('close');
    host.remove();
    if (modal && before && before.focus) before.focus();
  };
  if (close) close.onclick = finish;
  if (modal) frame.addEventListener('close', finish); /* Esc: the dialog's own cancel */
  frame.addEventListener('keydown', (e) => {
    if (e.key == 'Escape' && !modal && close) finish();
    if (e.key != 'Tab' || !modal) return;
    /* Keep focus inside the modal: wrap around at both ends. */
    const all = [...root.querySelectorAll('input,button')].filter((x) => !x.closest('[hidden]'));
    const first = all[0], last = all[all.length - 1], at = root.activeElement;
    if (e.shiftKey ? at == first : at == last) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
  });
  const fieldError = (name, message) => {
    const input = root.getElementById('f-' + name);
    if (!input) return null;
    if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    root.getElementById('e-' + name).textContent = message;
    return input;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submitted) return;
    if (push) { submitted = true; done('allow'); emit('submit'); return finish(); }
    const values = {};
    let bad = null;
    /* The browser's own checks (required, email) in the visitor's language; the collector
       checks everything again and its answer lands on the field too. */
    for (const f of fields) {
      const input = fieldError(f.name, root.getElementById('f-' + f.name).validationMessage);
      if (input.value.trim()) values[f.name] = input.value.trim();
      if (input.validationMessage) bad = bad || input;
    }
    const box = fieldError('consent', (root.getElementById('f-consent') || {}).validationMessage || '');
    if (box && !box.checked) bad = bad || box;
    status.textContent = '';
    if (bad) return bad.focus();
    try {
      const body = { writeKey: settings.writeKey, widgetId: id, fields: values, consent: !!(box && box.checked) };
      if (vname) body.variant = vname;
      if (visitor) body.anonymousId = visitor;
      const res = await fetch(settings.endpoint + '/v1/subscribe', { method: 'POST',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = await res.json().catch(() => ({}));
      if (!res.ok) {
        const input = fieldError(answer.field, answer.message || '');
        if (input) return input.focus();
        throw answer;
      }
    } catch (err) {
      status.textContent = 'Sorry, that did not work. Please try again.';
      return;
    }
    submitted = true;
    form.hidden = true;
    status.textContent = t('success', 'Thank you!');
    host.setAttribute('data-orbita-state', 'submitted');
    done('submit');
    emit('submit');
    if (close) close.focus();
  });
  if (modal) {
    frame.showModal();
    const first = root.querySelector('input');
    if (first) first.focus();
  }
  host.setAttribute('data-orbita-state', 'open');
  emit('open');
  return true;
}

/* ---- Web push subscription: service worker, permission, Push API, POST to the collector ---- */

function within(promise, ms, why) {
  return Promise.race([promise, new Promise(function (_, reject) {
    setTimeout(function () { reject(new Error(why)); }, ms);
  })]);
}

function message(e) { return (e && e.message) || String(e); }

async function flow(script, key, url, body, ms) {
  var container = navigator.serviceWorker;
  if (!container || !self.PushManager || !self.Notification) return ['unsupported', ''];
  try { await container.register(script, { scope: '/' }); } catch (e) { return ['failed', 'service_worker: ' + message(e)]; }
  var permission;
  try { permission = await Notification.requestPermission(); } catch (e) { return ['failed', 'permission: ' + message(e)]; }
  if (permission !== 'granted') return ['denied', ''];
  var registration, subscription;
  try { registration = await within(container.ready, ms, 'no active worker'); } catch (e) { return ['failed', 'service_worker: ' + message(e)]; }
  try {
    subscription = await within(registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }), ms,
      'no answer from the push service within ' + ms / 1000 + ' s');
  } catch (e) { return ['failed', 'push_service: ' + message(e)]; }
  body.subscription = subscription.toJSON();
  try {
    var res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return res.status === 201 ? ['subscribed', ''] : ['failed', 'collector: HTTP ' + res.status];
  } catch (e) { return ['failed', 'collector: ' + message(e)]; }
}

/** Runs the flow and hands [outcome, reason] to the Rust side (`push`); resolves to what it
    answers. */
export function subscribe(script, key, url, body, ms, glue, ctx) {
  return flow(script, key, url, body, ms).then((result) => answer(glue, 'push', result, ctx));
}
