//! The recommendation block served by `GET /v1/recommendations` and rendered by the widgets.

/// Query parameter: which placement asks (`home`, `product`, `cart`, ...).
pub const PLACEMENT: &str = "placement";
/// Query parameter: how many items to return.
pub const LIMIT: &str = "limit";
/// Query parameter: the product the visitor is looking at (left out of the block).
pub const PRODUCT: &str = "product";
/// Query parameter: the product IDs of the cart the page shows, comma-separated.
pub const CART: &str = "cart";
/// Query parameter: the category the page lists.
pub const CATEGORY: &str = "category";
/// Query parameter: the visitor's anonymous ID (else the visitor cookie is read).
pub const ANONYMOUS_ID: &str = "anonymousId";
/// Property of a `Recommendation Block Viewed` event: the product IDs the block showed, so
/// later blocks can rotate them out.
pub const SHOWN_PRODUCT_IDS: &str = "product_ids";
/// Most product IDs the `cart` parameter may name.
pub const MAX_CART: usize = 50;
/// Most items one block may ask for.
pub const MAX_LIMIT: usize = 24;
/// Items returned when the request names no limit.
pub const DEFAULT_LIMIT: usize = 8;

/// Field names of the answer, for the widgets, which read them without serde to stay small.
pub mod fields {
    /// ID of this answer, to attribute clicks and purchases to the block.
    pub const RECOMM_ID: &str = "recommId";
    /// The list of items.
    pub const ITEMS: &str = "items";
    /// Item: product ID.
    pub const ID: &str = "id";
    /// Item: product name.
    pub const TITLE: &str = "title";
    /// Item: current price.
    pub const PRICE: &str = "price";
    /// Item: price before discount.
    pub const OLD_PRICE: &str = "oldPrice";
    /// Item: currency code.
    pub const CURRENCY: &str = "currency";
    /// Item: image URL.
    pub const IMAGE: &str = "image";
    /// Item: product page URL.
    pub const URL: &str = "url";
    /// Item: why it was recommended.
    pub const REASON: &str = "reason";
    /// The A/B variant of the placement that filled the block (absent when not under test);
    /// clicks on the block carry it.
    pub const VARIANT: &str = "variant";
    /// Item: the recommender that chose it.
    pub const RECOMMENDER: &str = "recommender";
}

#[cfg(feature = "validate")]
pub use typed::*;

#[cfg(feature = "validate")]
mod typed {
    use alloc::string::String;
    use alloc::vec::Vec;
    use serde::{Deserialize, Serialize};

    /// One product card of a block.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RecommendedItem {
        /// Product ID.
        pub id: String,
        /// Product name (plain text; renderers must never treat it as HTML).
        pub title: String,
        /// Current price.
        pub price: f64,
        /// Price before discount.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub old_price: Option<f64>,
        /// ISO 4217 currency code.
        pub currency: String,
        /// Image URL.
        pub image: String,
        /// Product page URL.
        pub url: String,
        /// Why the item was chosen.
        pub reason: String,
        /// The recommender that chose it (`bestsellers`, `similar`, ...).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub recommender: String,
    }

    /// The answer of `GET /v1/recommendations`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RecommendationBlock {
        /// ID of this answer; clicks and purchases from the block carry it.
        pub recomm_id: String,
        /// Placement that asked.
        pub placement: String,
        /// Name of the recommender that filled the block.
        pub recommender: String,
        /// The A/B variant that filled the block, when the placement is under test.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub variant: Option<String>,
        /// Items, best first.
        pub items: Vec<RecommendedItem>,
    }
}
