/* Web push subscription in the browser (service worker, permission, Push API, POST to the
   collector): these APIs are all promises, so the flow is one JavaScript function and the Rust
   side awaits a single promise (each promise awaited from Rust costs a closure shim in the wasm
   and the glue). Resolves to [outcome, reason]; never rejects. */
function within(promise, ms, why) {
  return Promise.race([promise, new Promise(function (_, reject) {
    setTimeout(function () { reject(new Error(why)); }, ms);
  })]);
}

function message(e) { return (e && e.message) || String(e); }

export async function subscribeFlow(script, key, url, body, ms) {
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
