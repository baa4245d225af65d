/* Orbita subscription forms, the browser half: triggers and drawing. The decisions (targeting,
   frequency caps, the silent interval, variants, the visitor's memory) are made in Rust
   (widgets/src/rules.rs, forms.rs); this module only watches the page and draws. It is
   JavaScript because every DOM callback wrapped for Rust costs a closure shim in the wasm and
   the glue (the Rust version of this file made the widgets module 46 KB gzipped; see
   ARCHITECTURE.md). Every text from the configuration is set as text, never as HTML. */

const STYLE = ':host{all:initial;display:block}'
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

const w = window, d = document, KEY = 'orbita_widgets', PKEY = 'orbita_visitor', mem = {};

/** What the rules need from the page: [path, mobile, cart value, segments]. The cart value and
    segments come from the page (window.orbitaWidgetContext = {cartValue: 84.5, segments: ['vip']})
    or else from the visitor's profile (GET /v1/visitor), as fetched on the page before: when a
    `visitor` is given (a widget targets them), a fresh answer is fetched for the next page. */
export function page(settings, visitor, stored) {
  const c = w.orbitaWidgetContext || {};
  let p = {};
  try { p = JSON.parse(store(stored, undefined, PKEY) || '{}'); } catch (e) { /* none yet */ }
  if (visitor) {
    fetch(settings.endpoint + '/v1/visitor?writeKey=' + encodeURIComponent(settings.writeKey)
      + '&anonymousId=' + encodeURIComponent(visitor), { credentials: 'omit' })
      .then((r) => r.ok && r.text()).then((t) => t && store(stored, t, PKEY), () => {});
  }
  return [location.pathname, matchMedia('(max-width: 767px), (pointer: coarse)').matches,
    c.cartValue ?? p.cartValue, c.segments || p.segments || []];
}

export function onReady(f, announce) {
  const go = () => {
    f();
    /* The triggers are armed: a User Timing mark (like the tracker's) and an event. */
    if (announce) {
      try { performance.mark('orbita:forms'); } catch (e) { /* old browser */ }
      d.dispatchEvent(new Event('orbita:ready'));
    }
  };
  d.readyState == 'loading' ? d.addEventListener('DOMContentLoaded', go) : go();
}

/** The widget memory (rules.rs encodes it; `key` another record), in localStorage only while
    storage is allowed, else for this page: read (no `text`) or replaced. */
export function store(stored, text, key = KEY) {
  try {
    if (text === undefined) return (stored ? localStorage.getItem(key) : mem[key]) || '';
    if (stored) return localStorage.setItem(key, text), '';
  } catch (e) { /* blocked or full */ }
  mem[key] = text;
  return mem[key] || '';
}
const on = (target, name, f) => target.addEventListener(name, f, { passive: true });

/** Calls `fire()` once, when the widget's trigger (its `rules` in the configuration) says so. */
export function arm(rules, fire) {
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

function el(tag, attrs, text) {
  const e = d.createElement(tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text) e.textContent = text;
  return e;
}

/** Draws `widget` (its configuration object; `variant` overrides texts and style) and answers
    the visitor; `settings` are the tracker's (`endpoint`, `writeKey`). `done(what, variant name)` tells the rule engine: `close` (closed without submitting),
    `closed` (closed after submitting) or `submit`. Returns false if there is nowhere to draw. */
export function draw(widget, variant, settings, visitor, done) {
  const kind = widget.kind, id = widget.id, modal = kind == 'popup', vname = variant ? variant.name : null;
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
  root.append(el('style', {}, STYLE), frame);

  const before = d.activeElement;
  let submitted = false, closed = false;
  const emit = (type) => host.dispatchEvent(new CustomEvent('orbita:' + type, { bubbles: true, composed: true,
    detail: { widgetId: id, kind, variant: vname } }));
  const finish = () => {
    if (closed) return;
    closed = true;
    if (modal && frame.open) frame.close();
    done(submitted ? 'closed' : 'close', vname);
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
    if (push) { submitted = true; done('allow', vname); emit('submit'); return finish(); }
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
    done('submit', vname);
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
