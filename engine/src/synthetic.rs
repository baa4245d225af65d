//! A deterministic synthetic shop for tests and benchmarks: a catalogue in categories with
//! prices, and visitors whose sessions view, cart and buy products. Each visitor has favourite
//! categories and a price they are comfortable with (price sensitivity): they mostly view
//! products of their categories near that price, and popular products more often.
//! Same settings, same shop: the random numbers come from a seeded SplitMix64.

use serde_json::json;

use crate::catalogue::Product;
use crate::models::Histories;
use crate::recommend::InteractionKind;
use crate::recommenders::{DailyInteraction, DAY_MS};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Products in the catalogue.
    pub products: usize,
    /// Top-level categories.
    pub categories: usize,
    /// Visitors.
    pub visitors: usize,
    /// Mean sessions per visitor (1 to 2 × mean − 1).
    pub sessions: usize,
    /// Seed of the random numbers.
    pub seed: u64,
    /// Time of the last event, ms since the epoch; events spread over the 30 days before.
    pub now_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            products: 1_000,
            categories: 10,
            visitors: 1_000,
            sessions: 2,
            seed: 42,
            now_ms: 1_800_000_000_000,
        }
    }
}

/// One generated interaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    /// Visitor number.
    pub visitor: u32,
    /// Product number.
    pub product: u32,
    /// View, cart or purchase.
    pub kind: InteractionKind,
    /// When, ms since the epoch.
    pub time_ms: i64,
}

/// A generated shop.
#[derive(Debug, Clone)]
pub struct SyntheticShop {
    /// The catalogue (IDs `P0`, `P1`, ...; categories `C0`...; 5 % sold out).
    pub products: Vec<Product>,
    /// Interactions in time order per visitor.
    pub interactions: Vec<Interaction>,
    /// Visitors generated.
    pub visitors: usize,
}

/// SplitMix64: tiny, fast, and the same numbers on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

impl SyntheticShop {
    /// Generates a shop.
    pub fn generate(s: &Settings) -> SyntheticShop {
        let mut rng = Rng::new(s.seed);
        let categories = s.categories.max(1);
        let mut products = Vec::with_capacity(s.products);
        let mut in_category: Vec<Vec<u32>> = vec![Vec::new(); categories];
        for i in 0..s.products {
            let c = i % categories;
            // Prices from 5 to ~500, log-uniform.
            let price = (5.0 * 100f64.powf(rng.unit()) * 100.0).round() / 100.0;
            in_category[c].push(i as u32);
            products.push(Product {
                id: format!("P{i}"),
                title: format!("Product {i}"),
                price,
                old_price: (rng.below(10) == 0).then_some((price * 1.25 * 100.0).round() / 100.0),
                currency: "EUR".into(),
                category: format!("C{c} > S{}", rng.below(4)),
                available: rng.below(20) != 0,
                image: String::new(),
                url: format!("/p/P{i}"),
                brand: Some(format!("B{}", rng.below(50))),
                attributes: Default::default(),
            });
        }
        let mut interactions = Vec::new();
        let start = s.now_ms - 30 * DAY_MS;
        for v in 0..s.visitors as u32 {
            let favourites = [rng.below(categories), rng.below(categories)];
            // The price the visitor is comfortable with, log-uniform like the catalogue.
            let comfort = 5.0 * 100f64.powf(rng.unit());
            let sessions = 1 + rng.below((2 * s.sessions).saturating_sub(1).max(1));
            let mut t = start + (rng.unit() * 25.0 * DAY_MS as f64) as i64;
            for _ in 0..sessions {
                let mut cart: Vec<u32> = Vec::new();
                let views = 1 + rng.below(6);
                for _ in 0..views {
                    let c = if rng.below(10) < 7 {
                        favourites[rng.below(2)]
                    } else {
                        rng.below(categories)
                    };
                    let list = &in_category[c];
                    if list.is_empty() {
                        continue;
                    }
                    // Popular products (low positions) more often; near the comfort price more
                    // often (rejection sampling, a few tries).
                    let mut p = list[0];
                    for _ in 0..8 {
                        let u = rng.unit();
                        p = list[((u * u) * list.len() as f64) as usize];
                        let ratio = (products[p as usize].price / comfort).ln().abs();
                        if rng.unit() < (-ratio).exp() {
                            break;
                        }
                    }
                    t += 20_000 + rng.below(120_000) as i64;
                    interactions.push(Interaction {
                        visitor: v,
                        product: p,
                        kind: InteractionKind::View,
                        time_ms: t,
                    });
                    if rng.below(10) < 3 && products[p as usize].available {
                        cart.push(p);
                        interactions.push(Interaction {
                            visitor: v,
                            product: p,
                            kind: InteractionKind::Cart,
                            time_ms: t + 1_000,
                        });
                    }
                }
                if !cart.is_empty() && rng.below(10) < 4 {
                    t += 60_000;
                    for &p in &cart {
                        interactions.push(Interaction {
                            visitor: v,
                            product: p,
                            kind: InteractionKind::Purchase,
                            time_ms: t,
                        });
                    }
                }
                t += (rng.unit() * 2.0 * DAY_MS as f64) as i64;
                t = t.min(s.now_ms);
            }
        }
        SyntheticShop {
            products,
            interactions,
            visitors: s.visitors,
        }
    }

    /// Distinct visitors per product, kind and day, as storage aggregates them.
    pub fn daily(&self) -> Vec<DailyInteraction> {
        let mut keys: Vec<(u32, u8, i64, u32)> = self
            .interactions
            .iter()
            .map(|i| {
                (
                    i.product,
                    i.kind as u8,
                    i.time_ms.div_euclid(DAY_MS),
                    i.visitor,
                )
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut out: Vec<DailyInteraction> = Vec::new();
        for (p, k, day, _) in keys {
            let kind = [
                InteractionKind::View,
                InteractionKind::Cart,
                InteractionKind::Purchase,
            ][k as usize];
            match out.last_mut() {
                Some(last)
                    if last.product_id == self.products[p as usize].id
                        && last.kind == kind
                        && last.day == day =>
                {
                    last.visitors += 1
                }
                _ => out.push(DailyInteraction {
                    product_id: self.products[p as usize].id.clone(),
                    kind,
                    day,
                    visitors: 1,
                }),
            }
        }
        out
    }

    /// Visitor histories for the item-to-item models; `carts_and_purchases_only` leaves views
    /// out (for the bought-together table).
    pub fn histories(&self, carts_and_purchases_only: bool) -> Histories {
        let triples: Vec<(u32, u32, InteractionKind)> = self
            .interactions
            .iter()
            .filter(|i| !carts_and_purchases_only || i.kind != InteractionKind::View)
            .map(|i| (i.visitor, i.product, i.kind))
            .collect();
        Histories::from_events(&triples, self.products.len())
    }

    /// An interaction as the tracker would send it (a Segment `track` event), as JSON text.
    pub fn event_json(&self, i: &Interaction) -> String {
        let product = &self.products[i.product as usize];
        let line = json!({"product_id": product.id, "price": product.price, "quantity": 1});
        let (name, properties) = match i.kind {
            InteractionKind::View => (
                "Product Viewed",
                json!({"product_id": product.id, "price": product.price, "category": product.category,
                       "name": product.title, "currency": product.currency}),
            ),
            InteractionKind::Cart => ("Cart Updated", json!({"products": [line]})),
            InteractionKind::Purchase => (
                "Order Completed",
                json!({"order_id": format!("o{}-{}", i.visitor, i.time_ms), "total": product.price,
                       "currency": product.currency, "products": [line]}),
            ),
        };
        json!({
            "type": "track", "event": name, "anonymousId": format!("v-{:08}", i.visitor),
            "messageId": format!("m-{}-{}-{}", i.visitor, i.product, i.time_ms),
            "timestamp": i.time_ms, "properties": properties,
            "context": {"page": {"url": product.url}, "library": {"name": "orbita", "version": "0.1.0"}},
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_shop_and_visitors_follow_their_price() {
        let s = Settings {
            products: 400,
            visitors: 300,
            ..Settings::default()
        };
        let a = SyntheticShop::generate(&s);
        let b = SyntheticShop::generate(&s);
        assert_eq!(a.products, b.products);
        assert_eq!(a.interactions, b.interactions);
        let c = SyntheticShop::generate(&Settings { seed: 7, ..s });
        assert_ne!(a.interactions, c.interactions);
        let count = |k| a.interactions.iter().filter(|i| i.kind == k).count();
        let (views, carts, buys) = (
            count(InteractionKind::View),
            count(InteractionKind::Cart),
            count(InteractionKind::Purchase),
        );
        assert!(
            views > carts && carts > buys && buys > 0,
            "{views} {carts} {buys}"
        );
        // Price sensitivity: a visitor's viewed prices spread less than the catalogue's.
        let log_spread = |prices: &[f64]| {
            let logs: Vec<f64> = prices.iter().map(|p| p.ln()).collect();
            let mean = logs.iter().sum::<f64>() / logs.len() as f64;
            (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt()
        };
        let catalogue: Vec<f64> = a.products.iter().map(|p| p.price).collect();
        let mut within = Vec::new();
        for v in 0..300u32 {
            let prices: Vec<f64> = a
                .interactions
                .iter()
                .filter(|i| i.visitor == v && i.kind == InteractionKind::View)
                .map(|i| a.products[i.product as usize].price)
                .collect();
            if prices.len() >= 4 {
                within.push(log_spread(&prices));
            }
        }
        let mean_within = within.iter().sum::<f64>() / within.len() as f64;
        assert!(mean_within < 0.8 * log_spread(&catalogue), "{mean_within}");
        // Daily aggregates count each visitor once per product, kind and day.
        let daily = a.daily();
        let total: u32 = daily.iter().map(|d| d.visitors).sum();
        assert!(total as usize <= a.interactions.len() && total > 0);
        let event: serde_json::Value =
            serde_json::from_str(&a.event_json(&a.interactions[0])).unwrap();
        assert_eq!(event["event"], "Product Viewed");
    }
}
