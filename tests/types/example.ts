// A front-end developer's use of the ES module, checked with `tsc --noEmit` by
// tests/e2e/tracker-esm.test.mjs. The `@ts-expect-error` lines are mistakes the types must catch
// (tsc fails if one of them compiles).
import orbita, { init, track, productViewed, cart, purchase, identify, consent, consentState, ready, type Cart } from '../../tracker-wasm/js/orbita.mjs';

async function main(): Promise<void> {
  await init({ writeKey: 'demo-write-key', consent: 'required', hashRouting: true });
  consent('granted');
  track('Newsletter Viewed', { source: 'footer' });
  productViewed({ product_id: 'LL-1003', name: 'Carbon Steel Wok 32 cm', price: 48.5, currency: 'EUR' });
  const basket: Cart = { products: [{ product_id: 'LL-1003', quantity: 2, price: 48.5 }], value: 97, currency: 'EUR' };
  cart(basket);
  purchase({ order_id: 'A-1001', total: 97, currency: 'EUR', products: basket.products });
  identify('crm-42', { email: 'ana@example.com' });
  identify({ email: 'ana@example.com' });
  orbita.search({ query: 'linen' });
  orbita.debug();
  const state: 'granted' | 'denied' | 'pending' = consentState();
  await ready(() => console.log(orbita.anonymousId().length, orbita.pendingEvents() + 1, state));

  // @ts-expect-error: the write key is required
  await init({ endpoint: 'https://collector.example' });
  // @ts-expect-error: an event name is a string
  track(42);
  // @ts-expect-error: an order needs its ID
  purchase({ total: 97, products: basket.products });
  // @ts-expect-error: an order needs its lines
  purchase({ order_id: 'A-1002', total: 97 });
  // @ts-expect-error: a cart is its products
  cart({ value: 97 });
  // @ts-expect-error: consent is granted or denied
  consent('maybe');
  // @ts-expect-error: a product view needs the product's ID
  productViewed({ name: 'Wok' });
}

void main();
