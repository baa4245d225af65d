//! Products as the shop's feed describes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One product of the shop's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The shop's product ID (the `product_id` its events carry).
    pub id: String,
    /// Display name.
    pub title: String,
    /// Current selling price.
    pub price: f64,
    /// Price before a discount, when the product is on sale.
    pub old_price: Option<f64>,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Category path, `Kitchen > Cookware`.
    pub category: String,
    /// Whether the product can be bought now.
    pub available: bool,
    /// Absolute or site-relative image URL.
    pub image: String,
    /// Absolute or site-relative product page URL.
    pub url: String,
    /// Brand, when the feed has one.
    pub brand: Option<String>,
    /// Other facts the feed gives (colour, size, material, ...), by the feed's own names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Product {
    /// The top-level category: `Kitchen` for `Kitchen > Cookware`.
    pub fn top_category(&self) -> &str {
        self.category.split('>').next().unwrap_or("").trim()
    }
}
