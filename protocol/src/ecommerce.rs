//! Ecommerce event names (Segment Ecommerce V2 where it has one) and their property keys.

/// A visitor viewed a product page. Requires `properties.product_id`.
pub const PRODUCT_VIEWED: &str = "Product Viewed";
/// A visitor viewed a category (Segment: "Product List Viewed"). Requires `properties.category`.
pub const PRODUCT_LIST_VIEWED: &str = "Product List Viewed";
/// The whole cart after a change (Orbita extension: shops send the full cart on every change,
/// the collector derives what was added and removed). Requires `properties.products`.
pub const CART_UPDATED: &str = "Cart Updated";
/// A product was added to the cart.
pub const PRODUCT_ADDED: &str = "Product Added";
/// A product was removed from the cart.
pub const PRODUCT_REMOVED: &str = "Product Removed";
/// Checkout began.
pub const CHECKOUT_STARTED: &str = "Checkout Started";
/// An order was placed. Requires `properties.order_id` and `properties.products`.
pub const ORDER_COMPLETED: &str = "Order Completed";
/// A product was added to the wishlist. Requires `properties.product_id`.
pub const PRODUCT_ADDED_TO_WISHLIST: &str = "Product Added to Wishlist";
/// A product was removed from the wishlist. Requires `properties.product_id`.
pub const PRODUCT_REMOVED_FROM_WISHLIST: &str = "Product Removed from Wishlist";
/// A visitor searched the shop.
pub const PRODUCTS_SEARCHED: &str = "Products Searched";

/// Property key: the shop's product ID (string or number).
pub const PRODUCT_ID: &str = "product_id";
/// Property key: the list of product lines of a cart or order.
pub const PRODUCTS: &str = "products";
/// Property key: the order ID.
pub const ORDER_ID: &str = "order_id";
/// Property key: the category of a product list.
pub const CATEGORY: &str = "category";
/// Property key: quantity of a product line.
pub const QUANTITY: &str = "quantity";
/// Property key: unit price.
pub const PRICE: &str = "price";
/// Property key: ISO 4217 currency code.
pub const CURRENCY: &str = "currency";
