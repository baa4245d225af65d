//! Placements as data: where a block sits (home, category, product, cart, thank-you, 404,
//! email) = a chain of recommenders tried in order, filters, boosters, rotation, diversity
//! and a fallback, optionally with A/B variants (each its own chain). Shops change them through
//! the collector's admin endpoint; [`default_placement`] gives the demo's.

use serde::{Deserialize, Serialize};

use crate::recommenders::{
    bestsellers, bought_together, cold_start, new_arrivals, personal, recently_viewed, similar,
    trending, Ask, Candidate, Context, Shop, Visitor, Why,
};

/// Most recommenders in a chain.
pub const MAX_CHAIN: usize = 8;
/// Most A/B variants of one placement.
pub const MAX_VARIANTS: usize = 8;
/// Most boosters of one placement.
pub const MAX_BOOSTERS: usize = 16;
/// Longest placement or variant name.
pub const MAX_NAME: usize = 64;

/// A recommender, by what it computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recommender {
    /// Time-decayed weighted interactions, 14-day half-life.
    Bestsellers,
    /// Time-decayed weighted interactions, 1-day half-life.
    Trending,
    /// Latest products in the catalogue.
    NewArrivals,
    /// Bestsellers across price levels, shifting towards the visitor's price band.
    ColdStart,
    /// Co-viewed with the page's product, plus content likeness.
    Similar,
    /// Carted or bought with the page's product or the cart.
    BoughtTogether,
    /// From the visitor's history through the item-to-item tables.
    Personal,
    /// The visitor's viewed products, latest first.
    RecentlyViewed,
}

impl Recommender {
    /// The name used in configurations and answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bestsellers => "bestsellers",
            Self::Trending => "trending",
            Self::NewArrivals => "new_arrivals",
            Self::ColdStart => "cold_start",
            Self::Similar => "similar",
            Self::BoughtTogether => "bought_together",
            Self::Personal => "personal",
            Self::RecentlyViewed => "recently_viewed",
        }
    }

    fn run(self, ask: &Ask) -> Vec<Candidate> {
        match self {
            Self::Bestsellers => bestsellers(ask),
            Self::Trending => trending(ask),
            Self::NewArrivals => new_arrivals(ask),
            Self::ColdStart => cold_start(ask),
            Self::Similar => similar(ask),
            Self::BoughtTogether => bought_together(ask),
            Self::Personal => personal(ask),
            Self::RecentlyViewed => recently_viewed(ask),
        }
    }
}

/// One link of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// What computes it.
    pub recommender: Recommender,
    /// Only products of the page's category (the listed category, else the product's).
    #[serde(default, skip_serializing_if = "is_false")]
    pub in_category: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn yes() -> bool {
    true
}

/// Which products a placement may show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filters {
    /// Only products available now (default on).
    #[serde(default = "yes")]
    pub in_stock: bool,
    /// Never products the visitor bought (default on).
    #[serde(default = "yes")]
    pub exclude_purchased: bool,
    /// Never products in the visitor's (or the page's) cart (default on).
    #[serde(default = "yes")]
    pub exclude_cart: bool,
    /// Only this top-level category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Lowest price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<f64>,
    /// Highest price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            in_stock: true,
            exclude_purchased: true,
            exclude_cart: true,
            category: None,
            min_price: None,
            max_price: None,
        }
    }
}

/// Multiplies the score of matching products (all conditions given must hold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Booster {
    /// Top-level category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Brand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Only products with an old price above the price.
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_sale: bool,
    /// Score multiplier, (0, 100].
    pub factor: f32,
}

/// An A/B variant: its own chain, for a share of visitors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variant {
    /// Name returned with the block (clicks carry it).
    pub name: String,
    /// Share of visitors (relative to the other variants' weights).
    pub weight: u32,
    /// Recommenders tried in order.
    pub chain: Vec<Step>,
}

/// A placement's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    /// Recommenders tried in order; each fills what the previous left empty.
    pub chain: Vec<Step>,
    /// Fills whatever the chain left (default: bestsellers).
    #[serde(default = "default_fallback")]
    pub fallback: Step,
    /// Which products may be shown.
    #[serde(default)]
    pub filters: Filters,
    /// Score multipliers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boosters: Vec<Booster>,
    /// Score multiplier per recent impression of a product (0..=1; 1 = no rotation).
    #[serde(default = "default_rotation")]
    pub rotation: f32,
    /// How long an impression counts for rotation, in hours.
    #[serde(default = "default_rotation_hours")]
    pub rotation_hours: f32,
    /// Most items of one top-level category per block (0 = no limit); the rest of a full
    /// block's slots go to other categories first.
    #[serde(default)]
    pub max_per_category: usize,
    /// A/B variants (none: the chain above serves everyone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
}

fn default_fallback() -> Step {
    Step {
        recommender: Recommender::Bestsellers,
        in_category: false,
    }
}

fn default_rotation() -> f32 {
    0.3
}

fn default_rotation_hours() -> f32 {
    2.0
}

fn step(recommender: Recommender) -> Step {
    Step {
        recommender,
        in_category: false,
    }
}

fn in_category(recommender: Recommender) -> Step {
    Step {
        recommender,
        in_category: true,
    }
}

/// The built-in placement for a name (home, category, product, cart, thank-you, 404, email;
/// anything else gets home's).
pub fn default_placement(name: &str) -> Placement {
    use Recommender::*;
    let chain = match name {
        "category" => vec![
            in_category(Personal),
            in_category(Trending),
            in_category(Bestsellers),
        ],
        "product" => vec![step(Similar), step(BoughtTogether), step(Personal)],
        "cart" => vec![step(BoughtTogether), step(Personal)],
        "thank-you" => vec![step(BoughtTogether), step(Personal), step(Trending)],
        "404" => vec![step(RecentlyViewed), step(Personal), step(Bestsellers)],
        "email" => vec![step(Personal), step(NewArrivals)],
        _ => vec![step(Personal), step(ColdStart)],
    };
    Placement {
        chain,
        fallback: default_fallback(),
        filters: Filters::default(),
        boosters: Vec::new(),
        rotation: default_rotation(),
        rotation_hours: default_rotation_hours(),
        max_per_category: if name == "category" { 0 } else { 4 },
        variants: Vec::new(),
    }
}

/// The placements with built-in defaults.
pub const DEFAULT_PLACEMENTS: [&str; 7] = [
    "home",
    "category",
    "product",
    "cart",
    "thank-you",
    "404",
    "email",
];

/// Whether a placement name is acceptable: 1-64 of `a-z 0-9 - _`.
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Placement {
    /// Reads and checks a configuration; the error says what is wrong.
    pub fn from_json(text: &str) -> Result<Placement, String> {
        let placement: Placement = serde_json::from_str(text).map_err(|e| e.to_string())?;
        placement.check()?;
        Ok(placement)
    }

    /// Checks the limits a configuration must respect.
    pub fn check(&self) -> Result<(), String> {
        let chain_ok = |chain: &[Step], what: &str| {
            if chain.is_empty() || chain.len() > MAX_CHAIN {
                return Err(format!("`{what}` must list 1 to {MAX_CHAIN} recommenders"));
            }
            Ok(())
        };
        chain_ok(&self.chain, "chain")?;
        let f = &self.filters;
        for (name, price) in [("minPrice", f.min_price), ("maxPrice", f.max_price)] {
            if price.is_some_and(|p| !p.is_finite() || p < 0.0) {
                return Err(format!("`filters.{name}` must be a price of 0 or more"));
            }
        }
        if let (Some(lo), Some(hi)) = (f.min_price, f.max_price) {
            if lo > hi {
                return Err("`filters.minPrice` is above `filters.maxPrice`".into());
            }
        }
        if self.boosters.len() > MAX_BOOSTERS {
            return Err(format!("at most {MAX_BOOSTERS} boosters"));
        }
        for b in &self.boosters {
            if !(b.factor.is_finite() && b.factor > 0.0 && b.factor <= 100.0) {
                return Err("a booster's `factor` must be above 0 and at most 100".into());
            }
            if b.category.is_none() && b.brand.is_none() && !b.on_sale {
                return Err("a booster needs a `category`, `brand` or `onSale`".into());
            }
        }
        if !(0.0..=1.0).contains(&self.rotation) {
            return Err("`rotation` must be from 0 to 1".into());
        }
        if !(self.rotation_hours.is_finite() && (0.0..=24.0 * 30.0).contains(&self.rotation_hours))
        {
            return Err("`rotationHours` must be from 0 to 720".into());
        }
        if self.variants.len() > MAX_VARIANTS {
            return Err(format!("at most {MAX_VARIANTS} variants"));
        }
        for (i, v) in self.variants.iter().enumerate() {
            if !valid_name(&v.name) {
                return Err(format!(
                    "variant name {:?} must be 1-{MAX_NAME} of a-z, 0-9, - and _",
                    v.name
                ));
            }
            if self.variants[..i].iter().any(|w| w.name == v.name) {
                return Err(format!("two variants are named {:?}", v.name));
            }
            chain_ok(&v.chain, "variants[].chain")?;
        }
        if !self.variants.is_empty() && self.variants.iter().all(|v| v.weight == 0) {
            return Err("at least one variant needs a weight above 0".into());
        }
        Ok(())
    }
}

/// One item of a served block.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// Product number in the shop.
    pub product: u32,
    /// Why, in words.
    pub reason: String,
    /// The recommender that chose it.
    pub recommender: &'static str,
}

/// A served block: items and the A/B variant that filled it.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Items, best first.
    pub items: Vec<Served>,
    /// The variant's name when the placement is under test.
    pub variant: Option<String>,
    /// The recommender that chose the first item (the chain's first that answered).
    pub recommender: &'static str,
}

/// Serves `limit` items of `placement` (named `name`, the A/B test's key) for `visitor_id`
/// (the A/B assignment; `None` gets the first variant) at `now_ms` (rotation window).
#[allow(clippy::too_many_arguments)] // each is one fact of the request; a struct would only rename them
pub fn serve(
    shop: &Shop,
    name: &str,
    placement: &Placement,
    visitor_id: Option<&str>,
    visitor: &Visitor,
    context: &Context,
    limit: usize,
    now_ms: i64,
) -> Block {
    let (chain, variant) = if placement.variants.is_empty() {
        (&placement.chain, None)
    } else {
        let weights: Vec<u32> = placement.variants.iter().map(|v| v.weight).collect();
        let pick = visitor_id
            .and_then(|v| protocol::experiment::pick(v, name, &weights))
            .unwrap_or_else(|| weights.iter().position(|&w| w > 0).unwrap_or(0));
        let v = &placement.variants[pick];
        (&v.chain, Some(v.name.clone()))
    };
    let f = &placement.filters;
    let cart: &[u32] = if context.cart.is_empty() {
        &visitor.cart
    } else {
        &context.cart
    };
    let only_category = f.category.as_deref().map(|c| shop.category_number(c));
    let allowed = |p: u32| {
        let product = shop.product(p);
        Some(p) != context.product
            && (!f.in_stock || product.available)
            && !(f.exclude_purchased && visitor.purchased.contains(&p))
            && !(f.exclude_cart && cart.contains(&p))
            && only_category.is_none_or(|c| c == Some(shop.category_of(p)))
            && f.min_price.is_none_or(|lo| product.price >= lo)
            && f.max_price.is_none_or(|hi| product.price <= hi)
    };
    let since = now_ms - (placement.rotation_hours as f64 * 3_600_000.0) as i64;
    let factor = |c: &Candidate| {
        let product = shop.product(c.product);
        let mut x = 1.0f32;
        for b in &placement.boosters {
            let category_ok = b
                .category
                .as_deref()
                .is_none_or(|cat| shop.category_number(cat) == Some(shop.category_of(c.product)));
            let brand_ok = b
                .brand
                .as_deref()
                .is_none_or(|brand| product.brand.as_deref() == Some(brand));
            let sale_ok = !b.on_sale || product.old_price.is_some_and(|o| o > product.price);
            if category_ok && brand_ok && sale_ok {
                x *= b.factor;
            }
        }
        let shown = visitor
            .shown
            .iter()
            .filter(|&&(p, at)| p == c.product && at >= since)
            .count();
        x * placement.rotation.powi(shown as i32)
    };
    let mut items: Vec<(Candidate, &'static str)> = Vec::with_capacity(limit);
    let mut held_back: Vec<(Candidate, &'static str)> = Vec::new();
    let mut per_category: Vec<usize> = vec![0; shop.categories.len()];
    let steps = chain.iter().chain(std::iter::once(&placement.fallback));
    for s in steps {
        if items.len() >= limit {
            break;
        }
        let taken = |p: u32| {
            items.iter().any(|(c, _)| c.product == p)
                || held_back.iter().any(|(c, _)| c.product == p)
        };
        let ok = |p: u32| allowed(p) && !taken(p);
        let ask = Ask {
            shop,
            visitor,
            context,
            allowed: &ok,
            // Extra candidates leave room for rotation and diversity to reorder.
            want: (limit - items.len()) * 3 + 4,
            slots: limit - items.len(),
            in_category: s.in_category,
        };
        let mut found = s.recommender.run(&ask);
        for c in &mut found {
            // Catalogue fill-ins score 0: keep their order with a tiny positive score.
            c.score = c.score.max(1e-6) * factor(c);
        }
        found.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.product.cmp(&b.product)));
        for c in found {
            if items.len() >= limit {
                break;
            }
            let cat = shop.category_of(c.product) as usize;
            if placement.max_per_category > 0 && per_category[cat] >= placement.max_per_category {
                held_back.push((c, s.recommender.name()));
                continue;
            }
            per_category[cat] += 1;
            items.push((c, s.recommender.name()));
        }
    }
    // Diversity held some back: they fill a block that would otherwise stay short.
    for h in held_back {
        if items.len() >= limit {
            break;
        }
        items.push(h);
    }
    Block {
        recommender: items.first().map_or("bestsellers", |i| i.1),
        items: items
            .into_iter()
            .map(|(c, r)| Served {
                product: c.product,
                reason: reason(shop, c.why),
                recommender: r,
            })
            .collect(),
        variant,
    }
}

fn reason(shop: &Shop, why: Why) -> String {
    why.describe(shop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Product;
    use crate::recommend::InteractionKind;
    use crate::recommenders::tests::{product, props};
    use crate::recommenders::{DailyInteraction, Relation, DAY_MS};
    use serde_json::json;

    const NOW: i64 = 10 * DAY_MS;

    /// a..f; bestseller order a (6 buyers) > b (5) > ... > f (1); a, b, c in K, d, e, f in B;
    /// e is sold out; f is on sale.
    fn shop() -> Shop {
        let mut products: Vec<Product> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .enumerate()
            .map(|(i, id)| product(id, if i < 3 { "K" } else { "B" }, 10.0 * (i + 1) as f64))
            .collect();
        products[4].available = false;
        products[5].old_price = Some(99.0);
        let interactions: Vec<DailyInteraction> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .enumerate()
            .map(|(i, id)| DailyInteraction {
                product_id: id.to_string(),
                kind: InteractionKind::Purchase,
                day: 10,
                visitors: 6 - i as u32,
            })
            .collect();
        Shop::new(products, &[], &interactions, NOW)
    }

    fn ids(shop: &Shop, block: &Block) -> Vec<String> {
        block
            .items
            .iter()
            .map(|i| shop.product(i.product).id.clone())
            .collect()
    }

    fn plain(chain: Vec<Step>) -> Placement {
        Placement {
            max_per_category: 0,
            ..Placement {
                chain,
                ..default_placement("home")
            }
        }
    }

    #[test]
    fn filters_leave_out_sold_out_bought_carted_and_the_page_product() {
        let shop = shop();
        let mut v = Visitor::default();
        v.observe(
            &shop,
            "Order Completed",
            &props(json!({"products": [{"product_id": "b"}]})),
            1,
        );
        v.observe(
            &shop,
            "Cart Updated",
            &props(json!({"products": [{"product_id": "c"}]})),
            2,
        );
        let ctx = Context {
            product: Some(0),
            ..Context::default()
        };
        let p = plain(vec![step(Recommender::Bestsellers)]);
        let block = serve(&shop, "home", &p, None, &v, &ctx, 10, NOW);
        assert_eq!(ids(&shop, &block), ["d", "f"]);
        assert!(block.items.iter().all(|i| !i.reason.is_empty()));
        // Price range and category filters; the in-stock filter off lets e back in.
        let mut p = plain(vec![step(Recommender::Bestsellers)]);
        p.filters = Filters {
            in_stock: false,
            exclude_purchased: false,
            exclude_cart: false,
            category: Some("B".into()),
            min_price: Some(45.0),
            max_price: Some(55.0),
        };
        // Category B is d 40, e 50, f 60: only e is within 45-55.
        let block = serve(&shop, "home", &p, None, &v, &Context::default(), 10, NOW);
        assert_eq!(ids(&shop, &block), ["e"]);
    }

    #[test]
    fn chain_fills_in_order_then_fallback() {
        let mut shop = shop();
        shop.set_neighbours(Relation::BoughtTogether, "a", &[("d".into(), 1.0)]);
        let ctx = Context {
            product: Some(0),
            ..Context::default()
        };
        let p = plain(vec![step(Recommender::BoughtTogether)]);
        let block = serve(
            &shop,
            "product",
            &p,
            None,
            &Visitor::default(),
            &ctx,
            3,
            NOW,
        );
        assert_eq!(ids(&shop, &block), ["d", "b", "c"]);
        assert_eq!(block.items[0].recommender, "bought_together");
        assert_eq!(block.items[0].reason, "bought together with Ta");
        assert_eq!(block.items[1].recommender, "bestsellers");
        assert_eq!(block.recommender, "bought_together");
    }

    #[test]
    fn boosters_rotation_and_diversity_reorder() {
        let shop = shop();
        let v = Visitor::default();
        let c = Context::default();
        // Scores: a 60, b 50, c 40, d 30, f 10. Booster ×10 on sale: f 100 → first.
        let mut p = plain(vec![step(Recommender::Bestsellers)]);
        p.boosters = vec![Booster {
            category: None,
            brand: None,
            on_sale: true,
            factor: 10.0,
        }];
        assert_eq!(
            ids(&shop, &serve(&shop, "home", &p, None, &v, &c, 3, NOW)),
            ["f", "a", "b"]
        );
        // Rotation 0.5: a shown twice within 2 h → 60 × 0.25 = 15 (below d's 30); an
        // impression 3 h old does not count for b.
        let v = Visitor {
            shown: vec![(0, NOW - 1000), (0, NOW - 2000), (1, NOW - 3 * 3_600_000)],
            ..Visitor::default()
        };
        let mut p = plain(vec![step(Recommender::Bestsellers)]);
        p.rotation = 0.5;
        assert_eq!(
            ids(&shop, &serve(&shop, "home", &p, None, &v, &c, 5, NOW)),
            ["b", "c", "d", "a", "f"]
        );
        // Diversity: at most 2 of a category: a, b (K), then d, f (B), then c held back fills.
        let mut p = plain(vec![step(Recommender::Bestsellers)]);
        p.max_per_category = 2;
        let v = Visitor::default();
        assert_eq!(
            ids(&shop, &serve(&shop, "home", &p, None, &v, &c, 4, NOW)),
            ["a", "b", "d", "f"]
        );
        assert_eq!(
            ids(&shop, &serve(&shop, "home", &p, None, &v, &c, 5, NOW)),
            ["a", "b", "d", "f", "c"]
        );
    }

    #[test]
    fn variants_are_stable_per_visitor_and_named_in_the_block() {
        let shop = shop();
        let mut p = plain(vec![step(Recommender::Bestsellers)]);
        p.variants = vec![
            Variant {
                name: "new".into(),
                weight: 1,
                chain: vec![step(Recommender::NewArrivals)],
            },
            Variant {
                name: "best".into(),
                weight: 1,
                chain: vec![step(Recommender::Bestsellers)],
            },
        ];
        let (v, c) = (Visitor::default(), Context::default());
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..40 {
            let id = format!("visitor-{i}");
            let first = serve(&shop, "home", &p, Some(&id), &v, &c, 3, NOW);
            let again = serve(&shop, "home", &p, Some(&id), &v, &c, 3, NOW);
            assert_eq!(first, again);
            let expected =
                ["new", "best"][protocol::experiment::pick(&id, "home", &[1, 1]).unwrap()];
            assert_eq!(first.variant.as_deref(), Some(expected));
            let recommender = if expected == "new" {
                "new_arrivals"
            } else {
                "bestsellers"
            };
            assert_eq!(first.items[0].recommender, recommender);
            seen.insert(expected);
        }
        assert_eq!(seen.len(), 2, "both variants served");
    }

    #[test]
    fn configurations_are_checked() {
        let ok = r#"{"chain":[{"recommender":"similar"},{"recommender":"bestsellers","inCategory":true}],
            "filters":{"minPrice":5,"category":"Kitchen"},"boosters":[{"onSale":true,"factor":2}],
            "variants":[{"name":"a","weight":1,"chain":[{"recommender":"trending"}]}]}"#;
        let p = Placement::from_json(ok).unwrap();
        assert!(
            p.filters.in_stock && p.filters.exclude_purchased,
            "filters default on"
        );
        assert_eq!(p.fallback.recommender, Recommender::Bestsellers);
        let round = serde_json::to_string(&p).unwrap();
        assert_eq!(Placement::from_json(&round).unwrap(), p);
        for (bad, says) in [
            (r#"{"chain":[]}"#, "1 to 8"),
            (r#"{"chain":[{"recommender":"magic"}]}"#, "unknown variant"),
            (
                r#"{"chain":[{"recommender":"similar"}],"colour":1}"#,
                "unknown field",
            ),
            (
                r#"{"chain":[{"recommender":"similar"}],"filters":{"minPrice":9,"maxPrice":1}}"#,
                "above",
            ),
            (
                r#"{"chain":[{"recommender":"similar"}],"boosters":[{"factor":2}]}"#,
                "needs",
            ),
            (
                r#"{"chain":[{"recommender":"similar"}],"boosters":[{"onSale":true,"factor":0}]}"#,
                "factor",
            ),
            (
                r#"{"chain":[{"recommender":"similar"}],"rotation":2}"#,
                "rotation",
            ),
            (
                r#"{"chain":[{"recommender":"similar"}],"variants":[{"name":"A B","weight":1,"chain":[{"recommender":"similar"}]}]}"#,
                "variant name",
            ),
            (
                r#"{"chain":[{"recommender":"similar"}],"variants":[{"name":"a","weight":0,"chain":[{"recommender":"similar"}]}]}"#,
                "weight",
            ),
        ] {
            let err = Placement::from_json(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(
            valid_name("thank-you") && valid_name("404") && !valid_name("") && !valid_name("Home")
        );
        for name in DEFAULT_PLACEMENTS {
            default_placement(name).check().unwrap();
        }
    }
}
