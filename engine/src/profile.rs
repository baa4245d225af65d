//! A visitor's profile, computed from their events: what they looked at, what is in their cart
//! (and how it changed), what they bought, the price band they browse, recency / frequency /
//! monetary figures, and the attributes `identify` gave. Computed from the stored events each
//! time it is asked for, so it reflects every event the moment the collector has stored it.

use std::collections::{BTreeMap, HashMap};

use protocol::ecommerce;
use serde::Serialize;
use serde_json::Value;

/// Most recently viewed products and searches listed.
const RECENT: usize = 20;
const DAY_MS: f64 = 86_400_000.0;

/// One stored event, as the profile needs it.
#[derive(Debug, Clone)]
pub struct ProfileEvent {
    /// `page`, `track`, `identify`, ...
    pub kind: String,
    /// The event name of a `track` event.
    pub name: Option<String>,
    /// When it happened (the collector's corrected event time), ms since the epoch.
    pub time_ms: i64,
    /// The event as sent (`properties`, `traits`, `context`, ...).
    pub raw: Value,
}

/// A product the visitor viewed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewedProduct {
    /// The shop's product ID.
    pub product_id: String,
    /// How many times.
    pub views: u32,
    /// Last time, ms since the epoch.
    pub last_viewed: i64,
}

/// One line of the cart.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    /// The shop's product ID.
    pub product_id: String,
    /// Units.
    pub quantity: f64,
    /// Unit price, when sent.
    pub price: Option<f64>,
}

/// A change between two cart snapshots: what Segment calls Product Added / Product Removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartChange {
    /// `Product Added` or `Product Removed`.
    pub event: &'static str,
    /// The shop's product ID.
    pub product_id: String,
    /// Units added or removed (positive).
    pub quantity: f64,
    /// When, ms since the epoch.
    pub at: i64,
}

/// The cart as the last snapshot left it, and how it got there.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    /// Current lines (empty after an order placed since the last snapshot).
    pub lines: Vec<CartLine>,
    /// Value of the current lines (the snapshot's `value`, else the sum of lines).
    pub value: f64,
    /// When the cart last changed.
    pub updated_at: Option<i64>,
    /// Every change derived from consecutive snapshots, oldest first.
    pub changes: Vec<CartChange>,
}

/// The range of prices the visitor actually looks at: the middle half of viewed prices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceBand {
    /// 25th percentile of viewed prices.
    pub low: f64,
    /// Median.
    pub median: f64,
    /// 75th percentile.
    pub high: f64,
    /// How many priced product views it is based on.
    pub views: u32,
}

/// Recency, frequency and monetary value of the visitor's orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfm {
    /// Whole days since the last order (`None` before the first).
    pub recency_days: Option<u32>,
    /// Orders placed.
    pub frequency: u32,
    /// Sum of order totals.
    pub monetary: f64,
    /// Currency of the last order.
    pub currency: Option<String>,
}

/// Everything the profile says about the visitor.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSummary {
    /// First and last event, ms since the epoch.
    pub first_seen: Option<i64>,
    /// Last event.
    pub last_seen: Option<i64>,
    /// Page views.
    pub page_views: u32,
    /// Distinct sessions (`context.session.id`).
    pub sessions: u32,
    /// Most recently viewed products first.
    pub viewed_products: Vec<ViewedProduct>,
    /// Category → views of it (product views and category pages).
    pub viewed_categories: BTreeMap<String, u32>,
    /// The cart.
    pub cart: Cart,
    /// Product IDs bought, most recent order first, without repeats.
    pub purchased_products: Vec<String>,
    /// Order IDs, oldest first.
    pub orders: Vec<String>,
    /// Wishlist product IDs (added and not removed).
    pub wishlist: Vec<String>,
    /// Latest searches first.
    pub searches: Vec<String>,
    /// The price band of viewed products, once there is one.
    pub price_band: Option<PriceBand>,
    /// Recency / frequency / monetary.
    pub rfm: Rfm,
    /// Traits from `identify` (later values win).
    pub attributes: BTreeMap<String, Value>,
}

/// A product ID as text (shops send numbers too).
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

fn lines_of(properties: &Value) -> Vec<CartLine> {
    let mut lines: Vec<CartLine> = Vec::new();
    for item in properties[ecommerce::PRODUCTS]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(product_id) = id_of(&item[ecommerce::PRODUCT_ID]) else {
            continue;
        };
        let quantity = number(&item[ecommerce::QUANTITY]).unwrap_or(1.0);
        match lines.iter_mut().find(|l| l.product_id == product_id) {
            Some(line) => line.quantity += quantity,
            None => lines.push(CartLine {
                product_id,
                quantity,
                price: number(&item[ecommerce::PRICE]),
            }),
        }
    }
    lines
}

/// The changes from one cart snapshot to the next.
pub fn cart_changes(before: &[CartLine], after: &[CartLine], at: i64) -> Vec<CartChange> {
    let quantity = |lines: &[CartLine], id: &str| {
        lines
            .iter()
            .filter(|l| l.product_id == id)
            .map(|l| l.quantity)
            .sum::<f64>()
    };
    let mut changes = Vec::new();
    let mut ids: Vec<&str> = before.iter().map(|l| l.product_id.as_str()).collect();
    ids.extend(after.iter().map(|l| l.product_id.as_str()));
    let mut seen = Vec::new();
    for id in ids {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let delta = quantity(after, id) - quantity(before, id);
        if delta != 0.0 {
            changes.push(CartChange {
                event: if delta > 0.0 {
                    ecommerce::PRODUCT_ADDED
                } else {
                    ecommerce::PRODUCT_REMOVED
                },
                product_id: id.to_string(),
                quantity: delta.abs(),
                at,
            });
        }
    }
    changes
}

/// The event's number within its session (`context.session.seq`), 0 if it has none.
fn sequence(event: &ProfileEvent) -> u64 {
    event
        .raw
        .get("context")
        .and_then(|c| c.get("session"))
        .and_then(|s| s.get(protocol::names::SEQUENCE))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The value at quantile `q` (0..=1) of sorted `values`, interpolated.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

/// Computes the profile from the visitor's events (any order) at `now_ms`.
pub fn summarize(events: &[ProfileEvent], now_ms: i64) -> ProfileSummary {
    let mut events: Vec<&ProfileEvent> = events.iter().collect();
    // Events of one batch often share a millisecond: their order within the session (the
    // tracker's sequence number) decides, so an order then a new cart leaves the cart open.
    events.sort_by_key(|e| (e.time_ms, sequence(e)));
    let mut out = ProfileSummary {
        first_seen: events.first().map(|e| e.time_ms),
        last_seen: events.last().map(|e| e.time_ms),
        ..ProfileSummary::default()
    };
    let mut sessions: Vec<&str> = Vec::new();
    let mut viewed: HashMap<String, ViewedProduct> = HashMap::new();
    let mut prices: Vec<f64> = Vec::new();
    let mut snapshot: Option<(i64, Vec<CartLine>, f64)> = None;
    let mut last_order_at: Option<i64> = None;
    let mut purchased: Vec<String> = Vec::new();
    let mut wishlist: Vec<String> = Vec::new();
    let mut searches: Vec<String> = Vec::new();
    for e in &events {
        if let Some(id) = e.raw["context"]["session"]["id"].as_str() {
            if !sessions.contains(&id) {
                sessions.push(id);
            }
        }
        let properties = &e.raw["properties"];
        match (e.kind.as_str(), e.name.as_deref()) {
            ("page", _) => out.page_views += 1,
            ("identify", _) => {
                for traits in [&e.raw["context"]["traits"], &e.raw["traits"]] {
                    for (k, v) in traits.as_object().into_iter().flatten() {
                        out.attributes.insert(k.clone(), v.clone());
                    }
                }
            }
            ("track", Some(ecommerce::PRODUCT_VIEWED)) => {
                if let Some(id) = id_of(&properties[ecommerce::PRODUCT_ID]) {
                    let entry = viewed.entry(id.clone()).or_insert(ViewedProduct {
                        product_id: id,
                        views: 0,
                        last_viewed: e.time_ms,
                    });
                    entry.views += 1;
                    entry.last_viewed = e.time_ms;
                }
                if let Some(price) = number(&properties[ecommerce::PRICE]).filter(|p| *p > 0.0) {
                    prices.push(price);
                }
                if let Some(category) = properties[ecommerce::CATEGORY].as_str() {
                    *out.viewed_categories
                        .entry(category.to_string())
                        .or_default() += 1;
                }
            }
            ("track", Some(ecommerce::PRODUCT_LIST_VIEWED)) => {
                if let Some(category) = properties[ecommerce::CATEGORY].as_str() {
                    *out.viewed_categories
                        .entry(category.to_string())
                        .or_default() += 1;
                }
            }
            ("track", Some(ecommerce::CART_UPDATED)) => {
                let lines = lines_of(properties);
                let before = snapshot.as_ref().map_or(&[][..], |(_, l, _)| l.as_slice());
                out.cart
                    .changes
                    .extend(cart_changes(before, &lines, e.time_ms));
                let value = number(&properties["value"]).unwrap_or_else(|| {
                    lines
                        .iter()
                        .map(|l| l.quantity * l.price.unwrap_or(0.0))
                        .sum()
                });
                snapshot = Some((e.time_ms, lines, value));
            }
            ("track", Some(ecommerce::ORDER_COMPLETED)) => {
                out.rfm.frequency += 1;
                out.rfm.monetary += number(&properties["total"])
                    .or_else(|| number(&properties["revenue"]))
                    .or_else(|| number(&properties["value"]))
                    .unwrap_or(0.0);
                if let Some(currency) = properties[ecommerce::CURRENCY].as_str() {
                    out.rfm.currency = Some(currency.to_string());
                }
                if let Some(order) = id_of(&properties[ecommerce::ORDER_ID]) {
                    out.orders.push(order);
                }
                for line in lines_of(properties) {
                    purchased.retain(|p| *p != line.product_id);
                    purchased.push(line.product_id);
                }
                last_order_at = Some(e.time_ms);
                // The order empties the cart: what was in it was bought, not removed.
                if let Some((_, lines, value)) = snapshot.as_mut() {
                    lines.clear();
                    *value = 0.0;
                }
            }
            ("track", Some(ecommerce::PRODUCT_ADDED_TO_WISHLIST)) => {
                if let Some(id) = id_of(&properties[ecommerce::PRODUCT_ID]) {
                    wishlist.retain(|w| *w != id);
                    wishlist.push(id);
                }
            }
            ("track", Some(ecommerce::PRODUCT_REMOVED_FROM_WISHLIST)) => {
                if let Some(id) = id_of(&properties[ecommerce::PRODUCT_ID]) {
                    wishlist.retain(|w| *w != id);
                }
            }
            ("track", Some(ecommerce::PRODUCTS_SEARCHED)) => {
                if let Some(query) = properties["query"].as_str().filter(|q| !q.is_empty()) {
                    searches.push(query.to_string());
                }
            }
            _ => {}
        }
    }
    out.sessions = sessions.len() as u32;
    let mut viewed: Vec<ViewedProduct> = viewed.into_values().collect();
    viewed.sort_by(|a, b| {
        b.last_viewed
            .cmp(&a.last_viewed)
            .then(a.product_id.cmp(&b.product_id))
    });
    viewed.truncate(RECENT);
    out.viewed_products = viewed;
    if let Some((at, lines, value)) = snapshot {
        out.cart.updated_at = Some(at);
        out.cart.lines = lines;
        out.cart.value = value;
    }
    purchased.reverse();
    out.purchased_products = purchased;
    out.wishlist = wishlist;
    searches.reverse();
    searches.truncate(RECENT);
    out.searches = searches;
    if !prices.is_empty() {
        prices.sort_by(f64::total_cmp);
        out.price_band = Some(PriceBand {
            low: quantile(&prices, 0.25),
            median: quantile(&prices, 0.5),
            high: quantile(&prices, 0.75),
            views: prices.len() as u32,
        });
    }
    out.rfm.recency_days =
        last_order_at.map(|at| ((now_ms - at).max(0) as f64 / DAY_MS).floor() as u32);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn track(name: &str, at: i64, properties: Value) -> ProfileEvent {
        ProfileEvent {
            kind: "track".into(),
            name: Some(name.into()),
            time_ms: at,
            raw: json!({"type": "track", "event": name, "properties": properties,
                        "context": {"session": {"id": if at < 1_000 { "s1" } else { "s2" }}}}),
        }
    }

    #[test]
    fn cart_snapshots_become_added_and_removed_changes() {
        let before = [
            CartLine {
                product_id: "A".into(),
                quantity: 1.0,
                price: None,
            },
            CartLine {
                product_id: "B".into(),
                quantity: 2.0,
                price: None,
            },
        ];
        let after = [
            CartLine {
                product_id: "B".into(),
                quantity: 3.0,
                price: None,
            },
            CartLine {
                product_id: "C".into(),
                quantity: 1.0,
                price: None,
            },
        ];
        let changes = cart_changes(&before, &after, 7);
        let changes: Vec<(&str, &str, f64)> = changes
            .iter()
            .map(|c| (c.event, c.product_id.as_str(), c.quantity))
            .collect();
        assert_eq!(
            changes,
            [
                ("Product Removed", "A", 1.0),
                ("Product Added", "B", 1.0),
                ("Product Added", "C", 1.0)
            ]
        );
    }

    #[test]
    fn a_visitor_story_in_one_profile() {
        let day = DAY_MS as i64;
        let events = vec![
            // Given out of order: the profile sorts by time.
            track(
                "Product Viewed",
                300,
                json!({"product_id": "P3", "price": 30, "category": "Lamps"}),
            ),
            track(
                "Product Viewed",
                100,
                json!({"product_id": "P1", "price": 10, "category": "Lamps"}),
            ),
            track(
                "Product Viewed",
                200,
                json!({"product_id": 2, "price": "20", "category": "Rugs"}),
            ),
            track(
                "Product Viewed",
                400,
                json!({"product_id": "P1", "price": 10, "category": "Lamps"}),
            ),
            track(
                "Product Viewed",
                500,
                json!({"product_id": "P5", "price": 50}),
            ),
            track(
                "Cart Updated",
                600,
                json!({"products": [{"product_id": "P1", "quantity": 1, "price": 10}]}),
            ),
            track(
                "Cart Updated",
                700,
                json!({"products": [{"product_id": "P1", "quantity": 2, "price": 10}, {"product_id": "P3", "price": 30}], "value": 50}),
            ),
            track(
                "Order Completed",
                800,
                json!({"order_id": "O-1", "total": 50, "currency": "EUR",
                "products": [{"product_id": "P1", "quantity": 2}, {"product_id": "P3"}]}),
            ),
            track(
                "Cart Updated",
                2 * day,
                json!({"products": [{"product_id": "P5", "quantity": 1, "price": 50}]}),
            ),
            track(
                "Product Added to Wishlist",
                2 * day + 1,
                json!({"product_id": "P9"}),
            ),
            track(
                "Product Added to Wishlist",
                2 * day + 2,
                json!({"product_id": "P8"}),
            ),
            track(
                "Product Removed from Wishlist",
                2 * day + 3,
                json!({"product_id": "P9"}),
            ),
            track("Products Searched", 2 * day + 4, json!({"query": "brass"})),
            ProfileEvent {
                kind: "identify".into(),
                name: None,
                time_ms: 2 * day + 5,
                raw: json!({"traits": {"email": "a@example.com", "tier": "gold"}, "context": {"traits": {"tier": "silver"}}}),
            },
            ProfileEvent {
                kind: "page".into(),
                name: None,
                time_ms: 2 * day + 6,
                raw: json!({}),
            },
        ];
        let p = summarize(&events, 5 * day + 10);
        assert_eq!((p.first_seen, p.last_seen), (Some(100), Some(2 * day + 6)));
        assert_eq!((p.page_views, p.sessions), (1, 2));
        let viewed: Vec<(&str, u32)> = p
            .viewed_products
            .iter()
            .map(|v| (v.product_id.as_str(), v.views))
            .collect();
        assert_eq!(viewed, [("P5", 1), ("P1", 2), ("P3", 1), ("2", 1)]);
        assert_eq!(
            p.viewed_categories,
            BTreeMap::from([("Lamps".into(), 3), ("Rugs".into(), 1)])
        );
        // Viewed prices 10, 20, 30, 10, 50 → sorted 10 10 20 30 50: quartiles 10, 20, 30.
        assert_eq!(
            p.price_band,
            Some(PriceBand {
                low: 10.0,
                median: 20.0,
                high: 30.0,
                views: 5
            })
        );
        // Snapshots: {P1×1} → {P1×2, P3×1} → (the order empties it) → {P5×1}: the order's
        // products were bought, not removed.
        let changes: Vec<(&str, &str, f64)> = p
            .cart
            .changes
            .iter()
            .map(|c| (c.event, c.product_id.as_str(), c.quantity))
            .collect();
        assert_eq!(
            changes,
            [
                ("Product Added", "P1", 1.0),
                ("Product Added", "P1", 1.0),
                ("Product Added", "P3", 1.0),
                ("Product Added", "P5", 1.0),
            ]
        );
        assert_eq!(
            p.cart.lines,
            [CartLine {
                product_id: "P5".into(),
                quantity: 1.0,
                price: Some(50.0)
            }]
        );
        assert_eq!(
            p.cart.value, 50.0,
            "the sum of lines when the snapshot has no value"
        );
        assert_eq!(p.orders, ["O-1"]);
        assert_eq!(p.purchased_products, ["P3", "P1"]);
        assert_eq!(
            p.rfm,
            Rfm {
                recency_days: Some(4),
                frequency: 1,
                monetary: 50.0,
                currency: Some("EUR".into())
            }
        );
        assert_eq!(p.wishlist, ["P8"]);
        assert_eq!(p.searches, ["brass"]);
        assert_eq!(p.attributes["email"], "a@example.com");
        assert_eq!(
            p.attributes["tier"], "gold",
            "`traits` wins over `context.traits`"
        );
    }

    #[test]
    fn an_order_after_the_last_snapshot_empties_the_cart() {
        let events = vec![
            track(
                "Cart Updated",
                10,
                json!({"products": [{"product_id": "A"}], "value": 5}),
            ),
            track(
                "Order Completed",
                20,
                json!({"order_id": "O", "total": 5, "products": [{"product_id": "A"}]}),
            ),
        ];
        let p = summarize(&events, 30);
        assert!(p.cart.lines.is_empty());
        assert_eq!(p.cart.value, 0.0);
        assert_eq!(p.cart.updated_at, Some(10));
        assert_eq!(p.rfm.recency_days, Some(0));
    }

    #[test]
    fn events_of_one_millisecond_keep_their_session_order() {
        let numbered = |mut e: ProfileEvent, seq: u64| {
            e.raw["context"]["session"]["seq"] = json!(seq);
            e
        };
        let order = numbered(
            track(
                "Order Completed",
                20,
                json!({"order_id": "O", "total": 5, "products": [{"product_id": "A"}]}),
            ),
            7,
        );
        let cart = numbered(
            track(
                "Cart Updated",
                20,
                json!({"products": [{"product_id": "B", "quantity": 2, "price": 60}]}),
            ),
            8,
        );
        // Given in either order, the cart captured after the order stays open.
        for events in [vec![order.clone(), cart.clone()], vec![cart, order]] {
            let p = summarize(&events, 30);
            assert_eq!(p.cart.lines.len(), 1, "{:?}", p.cart);
            assert_eq!(p.cart.value, 120.0);
        }
    }

    #[test]
    fn nobody_yet() {
        let p = summarize(&[], 0);
        assert_eq!(p, ProfileSummary::default());
    }
}
