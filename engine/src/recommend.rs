//! Recommenders, each named by what it computes. The walking skeleton has one: bestsellers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::Product;

/// What a visitor did with a product, weighted by how strongly it signals intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InteractionKind {
    /// Product page viewed.
    View,
    /// Product present in a cart snapshot.
    Cart,
    /// Product bought.
    Purchase,
}

impl InteractionKind {
    /// Weight of one interaction in popularity scores: view < cart < purchase.
    pub fn weight(self) -> f64 {
        match self {
            Self::View => 1.0,
            Self::Cart => 3.0,
            Self::Purchase => 10.0,
        }
    }
}

/// How many times visitors did `kind` with a product (aggregated by storage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionCount {
    /// Product ID as events carry it.
    pub product_id: String,
    /// What was done.
    pub kind: InteractionKind,
    /// How many times.
    pub count: u32,
}

/// A recommended product with its score and the reason it was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommended<'a> {
    /// The product.
    pub product: &'a Product,
    /// Weighted popularity score (0 for catalogue fill-ins).
    pub score: f64,
    /// Why this product is in the block, in words a merchant understands.
    pub reason: String,
}

/// Bestsellers: available products ranked by weighted interactions (purchases count most),
/// filled up with other available products in catalogue order when history is thin, so a new
/// shop still gets a full block. Unavailable products are never recommended, and neither are
/// the products in `exclude` (e.g. the one the visitor is looking at).
pub fn bestsellers<'a>(
    catalogue: &'a [Product],
    interactions: &[InteractionCount],
    exclude: &[&str],
    limit: usize,
) -> Vec<Recommended<'a>> {
    let mut scores: HashMap<&str, (f64, u32)> = HashMap::new();
    for i in interactions {
        let entry = scores.entry(i.product_id.as_str()).or_default();
        entry.0 += i.kind.weight() * f64::from(i.count);
        if i.kind == InteractionKind::Purchase {
            entry.1 += i.count;
        }
    }
    let mut ranked: Vec<(usize, &Product, f64, u32)> = catalogue
        .iter()
        .enumerate()
        .filter(|(_, p)| p.available && !exclude.contains(&p.id.as_str()))
        .map(|(pos, p)| {
            let (score, bought) = scores.get(p.id.as_str()).copied().unwrap_or_default();
            (pos, p, score, bought)
        })
        .collect();
    // Highest score first; ties keep catalogue order so the answer is deterministic.
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(limit)
        .map(|(_, product, score, bought)| Recommended {
            product,
            score,
            reason: match (score > 0.0, bought) {
                (false, _) => "new in the catalogue".into(),
                (true, 0) => "popular with visitors".into(),
                (true, 1) => "bought 1 time".into(),
                (true, n) => format!("bought {n} times"),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, available: bool) -> Product {
        Product {
            id: id.into(),
            title: format!("Product {id}"),
            price: 10.0,
            old_price: None,
            currency: "EUR".into(),
            category: "Home".into(),
            available,
            image: String::new(),
            url: String::new(),
            brand: None,
            attributes: Default::default(),
        }
    }

    fn count(id: &str, kind: InteractionKind, count: u32) -> InteractionCount {
        InteractionCount {
            product_id: id.into(),
            kind,
            count,
        }
    }

    #[test]
    fn purchases_outweigh_views_and_unavailable_is_skipped() {
        let catalogue = [
            product("a", true),
            product("b", true),
            product("c", false),
            product("d", true),
        ];
        let interactions = [
            count("a", InteractionKind::View, 9),
            count("b", InteractionKind::Purchase, 1),
            count("c", InteractionKind::Purchase, 50),
            count("unknown", InteractionKind::Purchase, 99),
        ];
        let ids: Vec<&str> = bestsellers(&catalogue, &interactions, &["d"], 10)
            .iter()
            .map(|r| r.product.id.as_str())
            .collect();
        assert_eq!(ids, ["b", "a"], "c is sold out, d is excluded");
    }

    #[test]
    fn empty_history_fills_from_catalogue_and_respects_limit() {
        let catalogue = [product("a", true), product("b", true), product("c", true)];
        let recs = bestsellers(&catalogue, &[], &[], 2);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].product.id, "a");
        assert_eq!(recs[0].reason, "new in the catalogue");
    }

    #[test]
    fn reasons_name_the_evidence() {
        let catalogue = [product("a", true), product("b", true)];
        let recs = bestsellers(
            &catalogue,
            &[
                count("a", InteractionKind::Purchase, 3),
                count("b", InteractionKind::Cart, 1),
            ],
            &[],
            2,
        );
        assert_eq!(recs[0].reason, "bought 3 times");
        assert_eq!(recs[1].reason, "popular with visitors");
    }
}
