/** Orbita's browser tracker as an ES module: the same calls as the script tag's `orbita(...)`. */

/** Options of {@link init}: the script tag's `data-*` attributes. */
export interface Options {
  /** The site's public write key (`data-write-key`). */
  writeKey: string;
  /** Where events go (`data-endpoint`); by default the origin this module was loaded from. */
  endpoint?: string;
  /** Product views from the page's schema.org JSON-LD (default true; `data-auto-product="off"`). */
  autoProduct?: boolean;
  /** `'required'`: track only after `consent('granted')` (`data-consent="required"`). */
  consent?: 'required';
  /** Treat Global Privacy Control / Do Not Track as a denial (`data-respect-gpc="on"`). */
  respectGpc?: boolean;
  /** The site routes by `#/fragment`: each new route is a page view (`data-hash-routing="on"`). */
  hashRouting?: boolean;
  /** Accept Yespo's `eS('sendEvent', ...)` calls (`data-yespo="on"`). */
  yespo?: boolean;
}

/** Any further properties the shop wants to send with an event. */
export type Properties = { [key: string]: unknown };

/** A product, or one line of a cart or order. */
export interface Product extends Properties {
  /** The product's ID in the shop's catalogue (as in the product feed). */
  product_id: string | number;
  name?: string;
  price?: number;
  /** How many (cart and order lines). */
  quantity?: number;
  /** ISO 4217 code, e.g. `'EUR'`. */
  currency?: string;
  category?: string;
  brand?: string;
}

/** `categoryViewed`: a product list page. */
export interface CategoryView extends Properties {
  category: string;
  products?: Product[];
}

/** `cart`: the whole cart after every change. */
export interface Cart extends Properties {
  products: Product[];
  value?: number;
  currency?: string;
}

/** `checkout`: Checkout Started. */
export interface Checkout extends Properties {
  value?: number;
  currency?: string;
  products?: Product[];
}

/** `purchase`: Order Completed. */
export interface Order extends Properties {
  order_id: string | number;
  /** The order's lines (the collector refuses an order without them). */
  products: Product[];
  total?: number;
  currency?: string;
  tax?: number;
  shipping?: number;
  coupon?: string;
}

/** `search`: Products Searched. */
export interface Search extends Properties {
  query: string;
}

/** `wishlistAdded` / `wishlistRemoved`. */
export interface WishlistItem extends Properties {
  product_id: string | number;
}

/** Who the visitor is (`identify`). */
export interface Traits extends Properties {
  email?: string;
  phone?: string;
}

/** The visitor's consent to tracking. */
export type ConsentState = 'granted' | 'denied' | 'pending';

/** Loads the tracker (once); resolves when it has started. Calls made before are queued. */
export function init(options: Options): Promise<void>;
/** Runs `callback` once the tracker has started; resolves then too. */
export function ready(callback?: () => void): Promise<void>;
/** An extra page view (one is sent automatically on load and on single-page-app navigation). */
export function page(properties?: Properties): void;
/** A custom event. */
export function track(event: string, properties?: Properties): void;
/** Product Viewed. */
export function productViewed(product: Product): void;
/** Product List Viewed. */
export function categoryViewed(list: CategoryView): void;
/** Cart Updated: the whole cart after every change. */
export function cart(cart: Cart): void;
/** Checkout Started. */
export function checkout(checkout?: Checkout): void;
/** Order Completed. */
export function purchase(order: Order): void;
/** Products Searched. */
export function search(search: Search): void;
/** Product Added to Wishlist. */
export function wishlistAdded(item: WishlistItem): void;
/** Product Removed from Wishlist. */
export function wishlistRemoved(item: WishlistItem): void;
/** On login: later events carry the customer ID. */
export function identify(userId: string, traits?: Traits): void;
/** Traits of the visitor without a customer ID. */
export function identify(traits: Traits): void;
/** On logout: forget the customer, start a new anonymous visitor. */
export function reset(): void;
/** The visitor's decision. */
export function consent(decision: 'granted' | 'denied'): void;
/** Sends what waits in the outbox now. */
export function flush(): void;
/** Logs events, batches and the collector's verdicts to the console (`debug(false)` stops). */
export function debug(on?: boolean): void;
/** The visitor's anonymous ID; empty before the tracker has loaded or without consent. */
export function anonymousId(): string;
/** The consent state. */
export function consentState(): ConsentState;
/** Events captured in this tab and not yet answered by the collector. */
export function pendingEvents(): number;

/** All of the above as one object. */
declare const orbita: {
  init: typeof init;
  ready: typeof ready;
  page: typeof page;
  track: typeof track;
  productViewed: typeof productViewed;
  categoryViewed: typeof categoryViewed;
  cart: typeof cart;
  checkout: typeof checkout;
  purchase: typeof purchase;
  search: typeof search;
  wishlistAdded: typeof wishlistAdded;
  wishlistRemoved: typeof wishlistRemoved;
  identify: typeof identify;
  reset: typeof reset;
  consent: typeof consent;
  flush: typeof flush;
  debug: typeof debug;
  anonymousId: typeof anonymousId;
  consentState: typeof consentState;
  pendingEvents: typeof pendingEvents;
};
export default orbita;
