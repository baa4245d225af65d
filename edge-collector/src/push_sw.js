/* Orbita's service worker, served by the collector at /orbita-sw.js?k=WRITE_KEY (scope /).
   Shows web push notifications and reports clicks as events. Every string from a payload is
   shown as notification text (never as HTML); the click URL must be http(s). When the browser
   replaces the subscription (`pushsubscriptionchange`: expiry, key rotation), the new one is
   stored in place of the old one, so the visitor stays reachable. Quoted names
   (__TITLE__ etc.) are filled in from the protocol crate when the collector serves this file. */
'use strict';
var params = new URL(self.location.href).searchParams;
var WRITE_KEY = params.get('k') || '';
var ENDPOINT = (params.get('e') || self.location.origin).replace(/\/+$/, '');

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

function text(value) { return typeof value === 'string' ? value : ''; }

function safeUrl(value) {
  try {
    var url = new URL(text(value) || '/', self.location.origin);
    if (url.protocol === 'https:' || url.protocol === 'http:') return url.href;
  } catch (e) { /* not a URL */ }
  return self.location.origin + '/';
}

self.addEventListener('push', function (event) {
  var message = {};
  if (event.data) {
    try { message = event.data.json() || {}; } catch (e) { message[__BODY__] = event.data.text(); }
  }
  var options = {
    body: text(message[__BODY__]),
    data: { url: safeUrl(message[__URL__]), id: text(message[__MESSAGE_ID__]), aid: text(message[__ANONYMOUS_ID__]) },
  };
  if (text(message[__ICON__])) options.icon = safeUrl(message[__ICON__]);
  if (options.data.id) options.tag = options.data.id;
  event.waitUntil(self.registration.showNotification(text(message[__TITLE__]) || self.location.hostname, options));
});

function focusOrOpen(url) {
  return self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url === url && 'focus' in windows[i]) return windows[i].focus();
    }
    return self.clients.openWindow(url);
  });
}

function reportClick(data) {
  if (!data.aid || !WRITE_KEY) return Promise.resolve();
  var properties = {};
  properties[__MESSAGE_ID__] = data.id || null;
  properties.url = data.url;
  var event = {
    type: 'track', event: __PUSH_CLICKED__, anonymousId: data.aid, properties: properties,
    messageId: 'push-click-' + (data.id || Date.now()), timestamp: new Date().toISOString(), writeKey: WRITE_KEY,
  };
  return fetch(ENDPOINT + '/v1/track', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event), keepalive: true,
  }).catch(function (e) { console.warn('orbita: push click not reported', e); });
}

self.addEventListener('notificationclick', function (event) {
  var data = (event.notification && event.notification.data) || {};
  event.notification.close();
  event.waitUntil(Promise.all([focusOrOpen(safeUrl(data.url)), reportClick(data)]));
});

function applicationServerKey(old) {
  var key = old && old.options && old.options.applicationServerKey;
  if (key) return Promise.resolve(key);
  return fetch(ENDPOINT + '/v1/push/vapid-public-key').then(function (r) { return r.json(); })
    .then(function (body) { return body[__PUBLIC_KEY__]; });
}

function resubscribe(event) {
  var old = event.oldSubscription;
  var next = event.newSubscription ? Promise.resolve(event.newSubscription)
    : applicationServerKey(old).then(function (key) {
      return self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    });
  return next.then(function (subscription) {
    if (!old || !old.endpoint || !WRITE_KEY) return;
    return fetch(ENDPOINT + '/v1/push/subscriptions', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subscription: subscription.toJSON(), previousEndpoint: old.endpoint, writeKey: WRITE_KEY }),
    }).then(function (r) { if (!r.ok) throw new Error('collector answered ' + r.status); });
  }).catch(function (e) { console.warn('orbita: replaced push subscription not stored', e); });
}

self.addEventListener('pushsubscriptionchange', function (event) { event.waitUntil(resubscribe(event)); });
