/* Orbita for front-end code that imports modules instead of adding the script tag:

     import { init, track, cart } from 'https://YOUR-COLLECTOR/orbita/orbita.mjs';
     init({ writeKey: 'YOUR-WRITE-KEY' });
     track('Signed Up', { plan: 'pro' });

   The same API as the global function (types in orbita.d.mts beside this file). `init` adds the
   script-tag stub (orbita.js, beside this file) with the options as its data-* attributes, so
   both ways load, queue and behave alike; calls made before the tracker has loaded are queued. */
const w = window;
w.orbita = w.orbita || function () { (w.orbita.q = w.orbita.q || []).push(arguments); };
const call = (name) => (...args) => w.orbita(name, ...args);
const read = (name, empty) => () => (w.orbita[name] ? w.orbita[name]() : empty);
let loading;

/** Loads the tracker once; resolves when it has started (queued calls sent on their way). */
export function init(options) {
  if (!loading) {
    loading = ready();
    const s = document.createElement('script'), o = options || {};
    const data = {
      writeKey: o.writeKey, endpoint: o.endpoint, autoProduct: o.autoProduct === false && 'off',
      consent: o.consent, respectGpc: o.respectGpc && 'on', hashRouting: o.hashRouting && 'on', yespo: o.yespo && 'on',
    };
    for (const k in data) if (data[k]) s.dataset[k] = data[k];
    s.async = true;
    s.src = new URL('orbita.js', import.meta.url).href;
    document.head.appendChild(s);
  }
  return loading;
}

/** Runs `callback` (if any) once the tracker has started; resolves then too. */
export function ready(callback) {
  return new Promise((ok) => w.orbita('ready', () => { if (callback) callback(); ok(); }));
}

export const page = call('page');
export const track = call('track');
export const productViewed = call('productViewed');
export const categoryViewed = call('categoryViewed');
export const cart = call('cart');
export const checkout = call('checkout');
export const purchase = call('purchase');
export const search = call('search');
export const wishlistAdded = call('wishlistAdded');
export const wishlistRemoved = call('wishlistRemoved');
export const identify = call('identify');
export const reset = call('reset');
export const consent = call('consent');
export const flush = call('flush');
export const debug = (on) => w.orbita('debug', on !== false);
export const anonymousId = read('anonymousId', '');
export const consentState = read('consentState', 'pending');
export const pendingEvents = read('pendingEvents', 0);

export default {
  init, ready, page, track, productViewed, categoryViewed, cart, checkout, purchase, search, wishlistAdded,
  wishlistRemoved, identify, reset, consent, flush, debug, anonymousId, consentState, pendingEvents,
};
