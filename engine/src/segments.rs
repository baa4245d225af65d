//! The segments a visitor belongs to, from the profile summary: a few fixed rules
//! (`protocol::site_config::visitor`) that the widgets' `segment` targeting can name, until the
//! platform has segments of its own.

use protocol::site_config::visitor as names;

use crate::profile::ProfileSummary;

/// Products viewed (without an order) that make a visitor a `browser`.
const BROWSER_VIEWS: usize = 3;

/// The segment names `summary` satisfies.
pub fn of(summary: &ProfileSummary) -> Vec<&'static str> {
    let orders = summary.orders.len();
    let mut out = Vec::new();
    if orders >= 1 {
        out.push(names::CUSTOMER);
    }
    if orders >= 2 {
        out.push(names::REPEAT_CUSTOMER);
    }
    if !summary.cart.lines.is_empty() {
        out.push(names::OPEN_CART);
    }
    if orders == 0 && summary.viewed_products.len() >= BROWSER_VIEWS {
        out.push(names::BROWSER);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{CartLine, ViewedProduct};

    fn viewed(id: &str) -> ViewedProduct {
        ViewedProduct {
            product_id: id.into(),
            views: 1,
            last_viewed: 0,
        }
    }

    #[test]
    fn rules_on_the_summary() {
        let mut s = ProfileSummary::default();
        assert!(of(&s).is_empty(), "a new visitor is in no segment");
        s.viewed_products = vec![viewed("a"), viewed("b")];
        assert!(of(&s).is_empty());
        s.viewed_products.push(viewed("c"));
        assert_eq!(of(&s), ["browser"]);
        s.cart.lines.push(CartLine {
            product_id: "a".into(),
            quantity: 1.0,
            price: Some(10.0),
        });
        assert_eq!(of(&s), ["open_cart", "browser"]);
        s.orders = vec!["o-1".into()];
        s.cart.lines.clear();
        assert_eq!(of(&s), ["customer"]);
        s.orders.push("o-2".into());
        assert_eq!(of(&s), ["customer", "repeat_customer"]);
    }
}
