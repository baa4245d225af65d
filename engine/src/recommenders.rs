//! The recommenders a placement chains, each named by what it computes, over a [`Shop`] (the
//! catalogue with its popularity figures and item-to-item tables, numbered densely) for one
//! [`Visitor`] (what they viewed, have in the cart, bought and were shown, folded from their
//! events) in one [`Context`] (the product or cart of the page).
//!
//! Every candidate carries a [`Why`], turned into words only for the items a block keeps.

use std::collections::HashMap;

use protocol::ecommerce;
use serde_json::Value;

use crate::catalogue::Product;
use crate::key_index::{prefetch, KeyTable};
use crate::models::NeighbourTable;
use crate::recommend::InteractionKind;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// Half-life of a bestseller's interactions: a sale two weeks ago counts half.
pub const BESTSELLER_HALF_LIFE_DAYS: f64 = 14.0;
/// Half-life of trending interactions: yesterday's sale counts half.
pub const TRENDING_HALF_LIFE_DAYS: f64 = 1.0;
/// Priced product views the visitor profile keeps for its price band.
const PRICES_KEPT: usize = 50;
/// Viewed products the visitor profile keeps.
const VIEWED_KEPT: usize = 50;
/// Impressions the visitor profile keeps for rotation.
const SHOWN_KEPT: usize = 200;
/// Products of the category whose content likeness `similar` computes (its bestsellers).
const SIMILAR_CONTENT: usize = 300;
/// Priced views after which cold start fills the whole block from the visitor's price band.
const BAND_FULL_AFTER: u32 = 5;

/// How many distinct visitors did `kind` with a product on one day (aggregated by storage).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct DailyInteraction {
    /// Product ID as events carry it.
    pub product_id: String,
    /// What was done.
    pub kind: InteractionKind,
    /// Day number (ms since the epoch / [`DAY_MS`]).
    pub day: i64,
    /// Distinct visitors.
    pub visitors: u32,
}

/// FNV-1a over the bytes with a SplitMix64 finish: a multiply per byte, fine for the short
/// product and visitor IDs it hashes. std's SipHash was a third of a profile update's time in
/// `cargo xtask bench engine`; FxHash (a multiply per 8 bytes) was faster still but made 24 % of
/// 100,000 IDs like `v-00012345` collide (bytes that differ by multiples of 8 in the last
/// position of a word cancel out), which a unit test now guards against.
#[derive(Debug, Clone, Copy)]
pub struct IdHasher(u64);

impl Default for IdHasher {
    fn default() -> Self {
        IdHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl IdHasher {
    /// Mixes one 64-bit word in: a folded multiply (the 128-bit product's halves xored, as
    /// wyhash does), so a difference in a word's high bytes reaches the low bits too (a plain
    /// multiply, FxHash's step, only carries differences upwards: sequential IDs collided).
    #[inline(always)]
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word) * 0x9e37_79b9_7f4a_7c15_u128;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl std::hash::Hasher for IdHasher {
    /// Eight bytes at a time (an ID of 10 bytes is two steps, not ten), the last word
    /// zero-padded; `str`'s `Hash` adds a terminator byte, so "a" and "a\0" differ.
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.mix(u64::from(b) | 0x100);
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The 64-bit key of an ID (a product's or a visitor's) in a [`KeyTable`]: IDs are told apart
/// by it alone (two of 100,000 IDs share one with a probability of about 3 in 10^10).
pub fn id_key(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = IdHasher::default();
    id.hash(&mut h);
    h.finish()
}

/// A `HashMap` with [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Which item-to-item table a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// Chosen by the same visitors (views, carts and purchases, weighted).
    CoViewed,
    /// Put in a cart or bought by the same visitors.
    BoughtTogether,
}

impl Relation {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CoViewed => "co_viewed",
            Self::BoughtTogether => "bought_together",
        }
    }

    /// The relation a storage name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "co_viewed" => Some(Self::CoViewed),
            "bought_together" => Some(Self::BoughtTogether),
            _ => None,
        }
    }
}

/// The catalogue indexed for recommending: products numbered by position, with their
/// time-decayed popularity, arrival time and item-to-item neighbours.
#[derive(Debug, Clone, Default)]
pub struct Shop {
    /// Products, numbered by position.
    pub products: Vec<Product>,
    /// Product numbers by [`id_key`] of their ID: one cache line per lookup, no string to
    /// compare (the catalogue's strings are elsewhere in memory: a second miss, measured ~12 %
    /// of a profile update).
    ids: KeyTable<u32>,
    /// Per product, the number of its top-level category in `categories`.
    category_of: Vec<u32>,
    /// Top-level category names.
    pub categories: Vec<String>,
    /// Per product: weighted interactions decayed with [`BESTSELLER_HALF_LIFE_DAYS`].
    pub bestseller_score: Vec<f32>,
    /// Per product: weighted interactions decayed with [`TRENDING_HALF_LIFE_DAYS`].
    pub trending_score: Vec<f32>,
    /// Per product: distinct buyers over the interactions given.
    pub buyers: Vec<u32>,
    /// Per product: when it entered the catalogue, ms since the epoch.
    pub added_at: Vec<i64>,
    by_bestseller: Vec<u32>,
    by_trending: Vec<u32>,
    by_newest: Vec<u32>,
    by_category: Vec<Vec<u32>>,
    /// Per product, its position in the catalogue sorted by price.
    price_rank: Vec<u32>,
    /// Products chosen by the same visitors.
    pub co_viewed: NeighbourTable,
    /// Products carted or bought by the same visitors.
    pub bought_together: NeighbourTable,
}

fn decay(age_days: f64, half_life: f64) -> f32 {
    (0.5f64).powf(age_days.max(0.0) / half_life) as f32
}

impl Shop {
    /// Indexes `products` (with `added_at[i]`, ms, for each; missing entries count as 0) and
    /// scores them from `interactions` as of `now_ms`. Interactions of unknown products are
    /// ignored. The neighbour tables start empty ([`Shop::set_neighbours`]).
    pub fn new(
        products: Vec<Product>,
        added_at: &[i64],
        interactions: &[DailyInteraction],
        now_ms: i64,
    ) -> Shop {
        let n = products.len();
        let mut ids = KeyTable::default();
        for (i, p) in products.iter().enumerate() {
            // The last product of an ID wins, as in the feed's upsert.
            *ids.get_or_insert_with(id_key(&p.id), || 0) = i as u32;
        }
        let mut categories: Vec<String> = Vec::new();
        let mut category_index: HashMap<String, u32> = HashMap::new();
        let category_of: Vec<u32> = products
            .iter()
            .map(|p| {
                let top = p.top_category();
                *category_index.entry(top.to_string()).or_insert_with(|| {
                    categories.push(top.to_string());
                    categories.len() as u32 - 1
                })
            })
            .collect();
        let mut bestseller_score = vec![0.0f32; n];
        let mut trending_score = vec![0.0f32; n];
        let mut buyers = vec![0u32; n];
        let today = now_ms.div_euclid(DAY_MS);
        for i in interactions {
            let Some(&p) = ids.get(id_key(&i.product_id)) else {
                continue;
            };
            let p = p as usize;
            let weight = i.kind.weight() as f32 * i.visitors as f32;
            let age = (today - i.day) as f64;
            bestseller_score[p] += weight * decay(age, BESTSELLER_HALF_LIFE_DAYS);
            trending_score[p] += weight * decay(age, TRENDING_HALF_LIFE_DAYS);
            if i.kind == InteractionKind::Purchase {
                buyers[p] += i.visitors;
            }
        }
        let added_at: Vec<i64> = (0..n)
            .map(|i| added_at.get(i).copied().unwrap_or(0))
            .collect();
        let ranked = |score: &[f32]| {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_by(|&a, &b| {
                score[b as usize]
                    .total_cmp(&score[a as usize])
                    .then(a.cmp(&b))
            });
            order
        };
        let by_bestseller = ranked(&bestseller_score);
        let by_trending = ranked(&trending_score);
        let mut by_newest: Vec<u32> = (0..n as u32).collect();
        // Newest first; among products added together, the later in the feed first.
        by_newest.sort_by(|&a, &b| {
            added_at[b as usize]
                .cmp(&added_at[a as usize])
                .then(b.cmp(&a))
        });
        let mut by_price: Vec<u32> = (0..n as u32).collect();
        by_price.sort_by(|&a, &b| {
            products[a as usize]
                .price
                .total_cmp(&products[b as usize].price)
                .then(a.cmp(&b))
        });
        let mut price_rank = vec![0u32; n];
        for (i, &p) in by_price.iter().enumerate() {
            price_rank[p as usize] = i as u32;
        }
        let mut by_category = vec![Vec::new(); categories.len()];
        for &p in &by_bestseller {
            by_category[category_of[p as usize] as usize].push(p);
        }
        Shop {
            products,
            ids,
            category_of,
            categories,
            bestseller_score,
            trending_score,
            buyers,
            added_at,
            by_bestseller,
            by_trending,
            by_newest,
            by_category,
            price_rank,
            co_viewed: NeighbourTable {
                neighbours: vec![Vec::new(); n],
            },
            bought_together: NeighbourTable {
                neighbours: vec![Vec::new(); n],
            },
        }
    }

    /// The number of the product with this ID.
    pub fn number(&self, id: &str) -> Option<u32> {
        self.number_of(ProductKey::of(id))
    }

    /// The number of the product with this key.
    pub fn number_of(&self, key: ProductKey) -> Option<u32> {
        self.ids.get(key.0).copied()
    }

    /// Brings the index slot of a product key into the cache (see [`KeyTable::prefetch`]).
    fn prefetch_key(&self, key: ProductKey) {
        self.ids.prefetch(key.0);
    }

    /// The product with this number.
    pub fn product(&self, p: u32) -> &Product {
        &self.products[p as usize]
    }

    /// Sets one product's neighbours in one table from (product ID, weight) pairs, strongest
    /// first; IDs not in the catalogue are skipped.
    pub fn set_neighbours(&mut self, relation: Relation, product_id: &str, row: &[(String, f32)]) {
        let Some(p) = self.number(product_id) else {
            return;
        };
        let row: Vec<(u32, f32)> = row
            .iter()
            .filter_map(|(id, w)| Some((self.number(id)?, *w)))
            .collect();
        self.table_mut(relation).neighbours[p as usize] = row;
    }

    /// Replaces a whole table (rows by product number).
    pub fn set_table(&mut self, relation: Relation, table: NeighbourTable) {
        *self.table_mut(relation) = table;
    }

    fn table_mut(&mut self, relation: Relation) -> &mut NeighbourTable {
        match relation {
            Relation::CoViewed => &mut self.co_viewed,
            Relation::BoughtTogether => &mut self.bought_together,
        }
    }

    fn table(&self, relation: Relation) -> &NeighbourTable {
        match relation {
            Relation::CoViewed => &self.co_viewed,
            Relation::BoughtTogether => &self.bought_together,
        }
    }

    /// The top-level category number of a product.
    pub fn category_of(&self, p: u32) -> u32 {
        self.category_of[p as usize]
    }

    /// The number of a top-level category name.
    pub fn category_number(&self, name: &str) -> Option<u32> {
        let name = name.split('>').next().unwrap_or("").trim();
        self.categories
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .map(|c| c as u32)
    }
}

/// A visitor's profile as recommenders need it, folded from their events one at a time
/// ([`Visitor::observe`]), so it is current as soon as an event is stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Visitor {
    /// Viewed products with the time of the last view, oldest first.
    pub viewed: Vec<(u32, i64)>,
    /// Products in the cart now.
    pub cart: Vec<u32>,
    /// Products bought, oldest first, without repeats.
    pub purchased: Vec<u32>,
    /// Prices of the latest priced product views (at most 50; once full, each new price
    /// replaces the oldest in place, so the order is not the views' order).
    pub prices: Vec<f32>,
    /// All priced product views ever observed.
    pub priced_views: u32,
    /// Products shown in recommendation blocks the visitor saw, with when.
    pub shown: Vec<(u32, i64)>,
}

/// Parses one event's JSON text into a `serde_json::Value` (a parse-only baseline).
pub fn parse_event(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// Checks one event's JSON text without building anything (the cheapest full parse: the
/// strictest parse-only baseline).
pub fn validate_event(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// A string field of an event, borrowed from the text when it has no escapes (serde's own
/// `Option<Cow<str>>` always copies: one allocation per field per event).
#[derive(Debug, Clone, PartialEq)]
pub struct Text<'a>(pub std::borrow::Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Its own `deserialize_str` visitor rather than [`Scalar`]'s `deserialize_any`: these are the
/// two fields every profile update reads (measured: through `Scalar` profile updates were
/// 0.49-0.53 x parse-only against 0.52-0.55 x).
impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A product ID or price as events send it: a string or a number, borrowed from the text
/// when it has no escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// Text.
    Text(std::borrow::Cow<'a, str>),
    /// A number.
    Number(f64),
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Scalar<'_> {
    /// The catalogue key of the product this ID names.
    fn key(&self) -> ProductKey {
        match self {
            Scalar::Text(s) => ProductKey::of(s),
            Scalar::Number(n) => ProductKey::of_number(*n),
        }
    }

    fn price(&self) -> Option<f32> {
        match self {
            Scalar::Text(s) => s.trim().parse::<f64>().ok(),
            Scalar::Number(n) => Some(*n),
        }
        .filter(|p| p.is_finite() && *p > 0.0)
        .map(|p| p as f32)
    }
}

/// One line of a cart or order, as much as profiles read.
#[derive(Debug, serde::Deserialize)]
pub struct UpdateLine<'a> {
    /// The product.
    #[serde(borrow)]
    pub product_id: Option<Scalar<'a>>,
}

/// The properties profiles read; everything else in the event is skipped unread.
#[derive(Debug, Default, serde::Deserialize)]
pub struct UpdateProperties<'a> {
    /// Product viewed.
    #[serde(borrow, default)]
    pub product_id: Option<Scalar<'a>>,
    /// Its price.
    #[serde(borrow, default)]
    pub price: Option<Scalar<'a>>,
    /// Cart or order lines.
    #[serde(borrow, default)]
    pub products: Option<Vec<UpdateLine<'a>>>,
    /// Products a recommendation block showed.
    #[serde(borrow, default)]
    pub product_ids: Option<Vec<Scalar<'a>>>,
}

/// A product ID (text, or a number as SQLite's `CAST(... AS TEXT)` writes it) reduced to the
/// [`id_key`] the catalogue is indexed by, while the event is parsed: nothing is copied, and
/// the product's slot in [`Shop`]'s index can be prefetched before it is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductKey(pub u64);

impl ProductKey {
    /// The key of a product ID.
    pub fn of(id: &str) -> ProductKey {
        ProductKey(id_key(id))
    }

    /// The key of a numeric product ID, named as SQLite's `CAST(... AS TEXT)` writes it.
    pub fn of_number(id: f64) -> ProductKey {
        ProductKey::of(&id.to_string())
    }
}

/// Its own visitor rather than [`Scalar`]'s (no `Cow` built): product IDs are read by every
/// profile update.
impl<'de> serde::Deserialize<'de> for ProductKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ProductKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a product ID (a string or a number)")
            }
            fn visit_str<E>(self, v: &str) -> Result<ProductKey, E> {
                Ok(ProductKey::of(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ProductKey, E> {
                Ok(ProductKey::of_number(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ProductKey, E> {
                Ok(ProductKey::of_number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ProductKey, E> {
                Ok(ProductKey::of_number(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A viewed product's price as events send it (a string or a number): kept when finite and
/// above 0, else none (the event still counts).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price(pub Option<f32>);

impl<'de> serde::Deserialize<'de> for Price {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Price(Scalar::deserialize(d)?.price()))
    }
}

/// The products of a cart's or an order's lines (`[{"product_id": ...}, ...]`), as keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineKeys(pub Vec<ProductKey>);

impl<'de> serde::Deserialize<'de> for LineKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Line {
            #[serde(default)]
            product_id: Option<ProductKey>,
        }
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = LineKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of lines")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LineKeys, A::Error> {
                let mut keys = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(line) = seq.next_element::<Line>()? {
                    keys.extend(line.product_id);
                }
                Ok(LineKeys(keys))
            }
        }
        d.deserialize_seq(V)
    }
}

/// What a profile update reads of `properties`, product IDs as [`ProductKey`]s: the same
/// fields as [`UpdateProperties`] (which keeps the IDs' text, for callers that need it).
#[derive(Debug, Default, serde::Deserialize)]
pub struct UpdateKeys {
    /// Product viewed.
    #[serde(default)]
    pub product_id: Option<ProductKey>,
    /// Its price.
    #[serde(default)]
    pub price: Price,
    /// Cart or order lines' products.
    #[serde(default)]
    pub products: Option<LineKeys>,
    /// Products a recommendation block showed.
    #[serde(default)]
    pub product_ids: Option<Vec<ProductKey>>,
}

/// An event parsed for a profile update: only what profiles read, the visitor and the event
/// name borrowed from the text, product IDs reduced to keys.
#[derive(Debug, serde::Deserialize)]
pub struct ProfileUpdate<'a> {
    /// The `track` event's name.
    #[serde(borrow, default)]
    pub event: Option<Text<'a>>,
    /// The visitor.
    #[serde(borrow, default, rename = "anonymousId")]
    pub anonymous_id: Option<Text<'a>>,
    /// What profiles read of `properties`.
    #[serde(default)]
    pub properties: UpdateKeys,
}

impl<'a> ProfileUpdate<'a> {
    /// Parses an event's JSON text.
    pub fn parse(text: &'a str) -> Option<ProfileUpdate<'a>> {
        serde_json::from_str(text).ok()
    }
}

/// An event reduced to what a profile keeps, its product IDs resolved to catalogue numbers
/// (IDs not in the catalogue dropped) and owned, so it can wait in [`Profiles`]' pipeline
/// without borrowing the event's text.
/// `P` is a product: its catalogue number, or its [`ProductKey`] before the catalogue was
/// asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Change<P = u32> {
    /// `Product Viewed`: the product and its price, when known and valid.
    Viewed {
        /// The product.
        product: Option<P>,
        /// Its price (finite, > 0).
        price: Option<f32>,
    },
    /// `Cart Updated`: the products of the snapshot, in order.
    Cart(Vec<P>),
    /// `Order Completed`: the products bought, in order.
    Order(Vec<P>),
    /// A recommendation block seen: its products.
    Shown(Vec<P>),
    /// Any other event: the profile does not change.
    #[default]
    Nothing,
}

impl Change {
    /// The change a `track` event named `name` with properties `p` makes.
    pub fn of(shop: &Shop, name: &str, p: &UpdateProperties) -> Change {
        Change::keyed(name, UpdateKeys::from(p)).resolve(shop)
    }
}

impl From<&UpdateProperties<'_>> for UpdateKeys {
    /// The same properties with their product IDs as keys.
    fn from(p: &UpdateProperties) -> UpdateKeys {
        let keys = |ids: &mut dyn Iterator<Item = &Scalar>| ids.map(Scalar::key).collect();
        UpdateKeys {
            product_id: p.product_id.as_ref().map(Scalar::key),
            price: Price(p.price.as_ref().and_then(Scalar::price)),
            products: p.products.as_ref().map(|lines| {
                LineKeys(keys(
                    &mut lines.iter().filter_map(|l| l.product_id.as_ref()),
                ))
            }),
            product_ids: p.product_ids.as_ref().map(|ids| keys(&mut ids.iter())),
        }
    }
}

impl Change<ProductKey> {
    /// The change a `track` event named `name` makes, its products still keys.
    pub fn keyed(name: &str, p: UpdateKeys) -> Change<ProductKey> {
        match name {
            ecommerce::PRODUCT_VIEWED => Change::Viewed {
                product: p.product_id,
                price: p.price.0,
            },
            ecommerce::CART_UPDATED => Change::Cart(p.products.unwrap_or_default().0),
            ecommerce::ORDER_COMPLETED => Change::Order(p.products.unwrap_or_default().0),
            protocol::experiment::BLOCK_VIEWED => Change::Shown(p.product_ids.unwrap_or_default()),
            _ => Change::Nothing,
        }
    }

    /// Brings into the cache the slots of `shop`'s index that [`Change::resolve`] reads.
    fn prefetch_products(&self, shop: &Shop) {
        match self {
            Change::Viewed { product, .. } => product.iter().for_each(|&k| shop.prefetch_key(k)),
            Change::Cart(keys) | Change::Order(keys) | Change::Shown(keys) => {
                keys.iter().for_each(|&k| shop.prefetch_key(k))
            }
            Change::Nothing => {}
        }
    }

    /// The same change with products numbered by `shop` (products not in it dropped).
    pub fn resolve(self, shop: &Shop) -> Change {
        let numbers = |keys: Vec<ProductKey>| -> Vec<u32> {
            keys.into_iter().filter_map(|k| shop.number_of(k)).collect()
        };
        match self {
            Change::Viewed { product, price } => Change::Viewed {
                product: product.and_then(|k| shop.number_of(k)),
                price,
            },
            Change::Cart(keys) => Change::Cart(numbers(keys)),
            Change::Order(keys) => Change::Order(numbers(keys)),
            Change::Shown(keys) => Change::Shown(numbers(keys)),
            Change::Nothing => Change::Nothing,
        }
    }
}

/// Prefetches the first cache lines of a list (at most 8: the hardware prefetcher follows on).
fn prefetch_slice<T>(list: &[T]) {
    let bytes = std::mem::size_of_val(list).min(8 * 64);
    let start = list.as_ptr().cast::<u8>();
    for offset in (0..bytes).step_by(64) {
        prefetch(start.wrapping_add(offset));
    }
}

fn push_recent<T: PartialEq + Copy>(list: &mut Vec<(T, i64)>, item: T, at: i64, keep: usize) {
    list.retain(|e| e.0 != item);
    list.push((item, at));
    if list.len() > keep {
        list.remove(0);
    }
}

/// The middle half of a visitor's viewed prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// 25th percentile.
    pub low: f32,
    /// Median.
    pub median: f32,
    /// 75th percentile.
    pub high: f32,
}

fn quantile(sorted: &[f32], q: f32) -> f32 {
    let position = q * (sorted.len() - 1) as f32;
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f32)
}

impl Visitor {
    /// Folds a parsed [`ProfileUpdate`] that happened at `at` into the profile.
    pub fn apply(&mut self, shop: &Shop, update: ProfileUpdate, at: i64) {
        if let Some(name) = update.event.as_deref() {
            self.fold(&Change::keyed(name, update.properties).resolve(shop), at);
        }
    }

    /// Folds one `track` event (its name, its properties as profiles read them, its time) into
    /// the profile: product views (with price), cart snapshots, orders (which empty the cart)
    /// and recommendation blocks seen (their `product_ids`). Other events leave it unchanged.
    pub fn observe(&mut self, shop: &Shop, name: &str, p: &UpdateProperties, at: i64) {
        self.fold(&Change::of(shop, name, p), at);
    }

    /// Folds one [`Change`] that happened at `at` into the profile (what
    /// [`Visitor::observe`] does once the event is resolved against the catalogue).
    pub fn fold(&mut self, change: &Change, at: i64) {
        match change {
            Change::Viewed { product, price } => {
                if let Some(product) = *product {
                    push_recent(&mut self.viewed, product, at, VIEWED_KEPT);
                }
                if let Some(price) = *price {
                    if self.prices.len() >= PRICES_KEPT {
                        // A ring: the oldest of the kept prices is overwritten (their order
                        // does not matter to the band).
                        let oldest = self.priced_views as usize % self.prices.len();
                        self.prices[oldest] = price;
                    } else {
                        self.prices.push(price);
                    }
                    self.priced_views += 1;
                }
            }
            Change::Cart(lines) => {
                self.cart.clear();
                for &product in lines {
                    if !self.cart.contains(&product) {
                        self.cart.push(product);
                    }
                }
            }
            Change::Order(lines) => {
                for &product in lines {
                    self.purchased.retain(|&q| q != product);
                    self.purchased.push(product);
                }
                self.cart.clear();
            }
            Change::Shown(products) => {
                for &product in products {
                    push_recent(&mut self.shown, product, at, SHOWN_KEPT);
                }
            }
            Change::Nothing => {}
        }
    }

    /// Brings into the cache the parts of the profile that folding `change` reads and writes
    /// (a hint: the profile is unchanged).
    fn prefetch_for(&self, change: &Change) {
        match change {
            Change::Viewed { .. } => {
                prefetch_slice(&self.viewed);
                prefetch(
                    self.prices
                        .as_ptr()
                        .wrapping_add(self.priced_views as usize % PRICES_KEPT),
                );
            }
            Change::Cart(_) => prefetch_slice(&self.cart),
            Change::Order(_) => {
                prefetch_slice(&self.purchased);
                prefetch_slice(&self.cart);
            }
            Change::Shown(_) => prefetch_slice(&self.shown),
            Change::Nothing => {}
        }
    }

    /// The price band of the latest priced views (interquartile range), once there is one.
    pub fn band(&self) -> Option<Band> {
        if self.prices.is_empty() {
            return None;
        }
        let mut sorted = self.prices.clone();
        sorted.sort_by(f32::total_cmp);
        Some(Band {
            low: quantile(&sorted, 0.25),
            median: quantile(&sorted, 0.5),
            high: quantile(&sorted, 0.75),
        })
    }

    /// The visitor's history as (product, weight) pairs: each product weighs as its strongest
    /// interaction (view 1 < cart 3 < purchase 10), views fading with their age in the list.
    pub fn history(&self) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = Vec::new();
        let mut put = |p: u32, w: f32| match out.iter_mut().find(|e| e.0 == p) {
            Some(e) => e.1 = e.1.max(w),
            None => out.push((p, w)),
        };
        let n = self.viewed.len();
        for (i, &(p, _)) in self.viewed.iter().enumerate() {
            // The latest view weighs 1, the one before 0.9, ... (never below 0.2).
            let age = (n - 1 - i) as f32;
            put(
                p,
                (InteractionKind::View.weight() as f32 * (1.0 - 0.1 * age)).max(0.2),
            );
        }
        for &p in &self.cart {
            put(p, InteractionKind::Cart.weight() as f32);
        }
        for &p in &self.purchased {
            put(p, InteractionKind::Purchase.weight() as f32);
        }
        out
    }
}

/// One parsed event waiting in [`Profiles`]' pipeline.
#[derive(Debug, Clone)]
struct Pending<P> {
    /// [`Profiles::key`] of its visitor.
    key: u64,
    change: Change<P>,
    at: i64,
}

/// Visitor profiles by anonymous ID, for one shop's catalogue, updated one event (its JSON
/// text) at a time: what a long-running server (or the benchmark) keeps in memory. Keyed by a
/// 64-bit hash of the ID (no key string to compare; two of 100,000 IDs collide with a
/// probability of about 3 in 10^10), the profiles stored in a [`KeyTable`].
///
/// With many profiles an update is dominated by memory latency (the event's products in the
/// catalogue's index, the profile's slot, then its lists: dependent cache misses), so updates
/// are pipelined: each update parses its event and prefetches its visitor's slot and its
/// products' index slots; numbers the products of the event before it, looks up that
/// event's profile and prefetches the profile's lists; and folds the event before that. Each
/// event is thus folded, in order, two updates later, and [`Profiles::flush`] (which
/// [`Profiles::get`] and [`Profiles::count`] call) folds every event still held.
#[derive(Debug, Clone)]
pub struct Profiles<'s> {
    shop: &'s Shop,
    table: KeyTable<Visitor>,
    /// The last event parsed: its slot and its products' index slots prefetched.
    parsed: Option<Pending<ProductKey>>,
    /// The event before it: its profile's lists prefetched.
    looked_up: Option<Pending<u32>>,
}

impl<'s> Profiles<'s> {
    /// No profiles yet, for `shop`'s catalogue (profiles hold its product numbers).
    pub fn new(shop: &'s Shop) -> Profiles<'s> {
        Profiles {
            shop,
            table: KeyTable::default(),
            parsed: None,
            looked_up: None,
        }
    }

    /// The key of an anonymous ID.
    pub fn key(anonymous_id: &str) -> u64 {
        id_key(anonymous_id)
    }

    /// The profile of an anonymous ID, with every event given so far folded in.
    pub fn get(&mut self, anonymous_id: &str) -> Option<&Visitor> {
        self.flush();
        self.table.get(Self::key(anonymous_id))
    }

    /// Profiles held, with every event given so far folded in.
    pub fn count(&mut self) -> usize {
        self.flush();
        self.table.len()
    }

    /// Folds every event still held back.
    pub fn flush(&mut self) {
        self.advance();
        self.advance();
    }

    /// Moves the pipeline one step: folds the looked-up event, and numbers and looks up the
    /// parsed one (prefetching its profile's lists).
    fn advance(&mut self) {
        if let Some(p) = self.looked_up.take() {
            self.visitor(p.key).fold(&p.change, p.at);
        }
        if let Some(p) = self.parsed.take() {
            let change = p.change.resolve(self.shop);
            self.visitor(p.key).prefetch_for(&change);
            self.looked_up = Some(Pending {
                key: p.key,
                change,
                at: p.at,
            });
        }
    }

    /// A visitor's profile, created on first sight with room for the lists every visitor
    /// fills (allocated together, so they usually share a page: one TLB miss less per update).
    fn visitor(&mut self, key: u64) -> &mut Visitor {
        self.table.get_or_insert_with(key, || Visitor {
            viewed: Vec::with_capacity(16),
            prices: Vec::with_capacity(PRICES_KEPT),
            ..Visitor::default()
        })
    }

    /// Parses one event and folds it into its visitor's profile (created on first sight);
    /// false when the text is not an event with an `anonymousId`. The fold happens two
    /// updates later, or at [`Profiles::flush`] (see the type's doc).
    pub fn update(&mut self, text: &str, at: i64) -> bool {
        let Some(event) = ProfileUpdate::parse(text) else {
            return false;
        };
        let Some(id) = event.anonymous_id.as_deref() else {
            return false;
        };
        let key = Self::key(id);
        let change = match event.event.as_deref() {
            Some(name) => Change::keyed(name, event.properties),
            None => Change::Nothing,
        };
        self.table.prefetch(key);
        change.prefetch_products(self.shop);
        self.advance();
        self.parsed = Some(Pending { key, change, at });
        true
    }
}

/// The page a block is asked for: the product shown, the cart, the category listed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The product the visitor is looking at.
    pub product: Option<u32>,
    /// The products of the cart the page shows (else the visitor's own cart is used).
    pub cart: Vec<u32>,
    /// The top-level category the page lists.
    pub category: Option<u32>,
}

/// Why a product is in a block; [`Why::describe`] puts it in a merchant's words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Why {
    /// Bought by this many distinct visitors (bestsellers).
    Bought(u32),
    /// Chosen by visitors, not bought yet.
    Popular,
    /// Much chosen in the last days.
    Trending,
    /// Entered the catalogue recently.
    New,
    /// Best at its price level (cold start).
    PriceLevel(u32),
    /// In the price range the visitor looks at (cold start, shifted).
    InBand,
    /// Viewed by the visitors who viewed this product.
    CoViewed(u32),
    /// Same category, attributes or a similar price as this product.
    LooksLike(u32),
    /// Carted or bought with this product.
    BoughtWith(u32),
    /// Related to this product of the visitor's history.
    Because(u32),
    /// The visitor viewed it.
    RecentlyViewed,
    /// Filled in from the catalogue.
    Catalogue,
}

impl Why {
    /// The reason in a merchant's words, naming products by title.
    pub fn describe(&self, shop: &Shop) -> String {
        let title = |p: &u32| shop.product(*p).title.as_str();
        match self {
            Why::Bought(1) => "bestseller: bought 1 time".into(),
            Why::Bought(n) => format!("bestseller: bought {n} times"),
            Why::Popular => "popular with visitors".into(),
            Why::Trending => "trending: much chosen in the last days".into(),
            Why::New => "new arrival".into(),
            Why::PriceLevel(0) => "popular at its price level".into(),
            Why::PriceLevel(n) => format!("popular at its price level (bought {n} times)"),
            Why::InBand => "in the price range you look at".into(),
            Why::CoViewed(p) => format!("visitors who viewed {} also viewed it", title(p)),
            Why::LooksLike(p) => format!("similar to {}", title(p)),
            Why::BoughtWith(p) => format!("bought together with {}", title(p)),
            Why::Because(p) => format!("because you were interested in {}", title(p)),
            Why::RecentlyViewed => "you viewed it recently".into(),
            Why::Catalogue => "from the catalogue".into(),
        }
    }
}

/// A candidate product with its score (comparable within one recommender) and reason.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Product number.
    pub product: u32,
    /// Score, higher is better.
    pub score: f32,
    /// Why.
    pub why: Why,
}

/// What the recommenders may return: `allowed(p)` says whether a product passes the
/// placement's filters; `want` is how many candidates to produce at most.
pub struct Ask<'a> {
    /// The catalogue.
    pub shop: &'a Shop,
    /// The visitor.
    pub visitor: &'a Visitor,
    /// The page.
    pub context: &'a Context,
    /// Whether a product may be shown.
    pub allowed: &'a dyn Fn(u32) -> bool,
    /// Candidates wanted.
    pub want: usize,
    /// Slots of the block still to fill (at most `want`): cold start spreads over these.
    pub slots: usize,
    /// Restrict to the context's category.
    pub in_category: bool,
}

impl Ask<'_> {
    fn category(&self) -> Option<u32> {
        if !self.in_category {
            return None;
        }
        self.context
            .category
            .or_else(|| self.context.product.map(|p| self.shop.category_of(p)))
    }

    /// Takes products from an ordered list while they pass, until `want` are found.
    fn in_order(
        &self,
        order: &[u32],
        by_bestseller: bool,
        score: &[f32],
        why: impl Fn(u32) -> Why,
    ) -> Vec<Candidate> {
        let category = self.category();
        let list: &[u32] = match category {
            Some(c) if by_bestseller => &self.shop.by_category[c as usize],
            _ => order,
        };
        list.iter()
            .copied()
            .filter(|&p| category.is_none_or(|c| self.shop.category_of(p) == c))
            .filter(|&p| (self.allowed)(p))
            .take(self.want)
            .map(|p| Candidate {
                product: p,
                score: score[p as usize],
                why: why(p),
            })
            .collect()
    }
}

fn bestseller_why(shop: &Shop, p: u32) -> Why {
    match (
        shop.bestseller_score[p as usize] > 0.0,
        shop.buyers[p as usize],
    ) {
        (false, _) => Why::Catalogue,
        (true, 0) => Why::Popular,
        (true, n) => Why::Bought(n),
    }
}

/// Bestsellers: weighted interactions (view 1, cart 3, purchase 10 per distinct visitor and
/// day) decayed with a 14-day half-life; products nobody chose follow in catalogue order.
pub fn bestsellers(ask: &Ask) -> Vec<Candidate> {
    let shop = ask.shop;
    ask.in_order(&shop.by_bestseller, true, &shop.bestseller_score, |p| {
        bestseller_why(shop, p)
    })
}

/// Trending: the same weighted interactions decayed with a 1-day half-life, so what is chosen
/// now outranks what sold well last month. Products nobody chose lately are left out.
pub fn trending(ask: &Ask) -> Vec<Candidate> {
    let shop = ask.shop;
    let mut out = ask.in_order(&shop.by_trending, false, &shop.trending_score, |_| {
        Why::Trending
    });
    out.retain(|c| c.score > 0.0);
    out
}

/// New arrivals: products that entered the catalogue last first.
pub fn new_arrivals(ask: &Ask) -> Vec<Candidate> {
    let shop = ask.shop;
    let n = shop.by_newest.len() as f32;
    let rank: Vec<f32> = {
        let mut r = vec![0.0; shop.products.len()];
        for (i, &p) in shop.by_newest.iter().enumerate() {
            r[p as usize] = n - i as f32;
        }
        r
    };
    ask.in_order(&shop.by_newest, false, &rank, |_| Why::New)
}

/// How close a price is to a band: 1 inside it, halving for every band width outside
/// (the width is at least a tenth of the median).
pub fn band_affinity(price: f32, band: &Band) -> f32 {
    let width = (band.high - band.low).max(band.median * 0.1).max(0.01);
    let distance = if price < band.low {
        band.low - price
    } else if price > band.high {
        price - band.high
    } else {
        0.0
    };
    0.5f32.powf(distance / width)
}

/// Cold start: bestsellers spread across price levels (the catalogue split by price into as
/// many ranges as slots to fill, the best allowed product of each range taken), shifting towards
/// the visitor's price band as they browse: after n priced views, ceil(slots · n / 5) of the
/// items are the products closest to the band (affinity × (1 + bestseller score)), all of them
/// from the fifth view on. Both parts walk the bestseller list and stop as soon as nothing
/// later can change the answer, so they stay fast on large catalogues.
pub fn cold_start(ask: &Ask) -> Vec<Candidate> {
    let shop = ask.shop;
    let slots = ask.slots.min(ask.want);
    if slots == 0 {
        return Vec::new();
    }
    let category = ask.category();
    let fits = |p: u32| category.is_none_or(|c| shop.category_of(p) == c) && (ask.allowed)(p);
    let score = |p: u32| shop.bestseller_score[p as usize];
    let mut out: Vec<Candidate> = Vec::with_capacity(slots);
    if let Some(band) = ask.visitor.band() {
        let share = ask.visitor.priced_views.min(BAND_FULL_AFTER) as usize;
        let in_band = (slots * share).div_ceil(BAND_FULL_AFTER as usize);
        // Walk the bestseller list keeping the `in_band` best values of affinity × (1 + score);
        // affinity is at most 1, so once 1 + score falls to the weakest value kept, no later
        // product can enter: a threshold walk that usually stops early.
        let list: &[u32] = match category {
            Some(c) => &shop.by_category[c as usize],
            None => &shop.by_bestseller,
        };
        let mut near: Vec<(u32, f32)> = Vec::with_capacity(in_band + 1);
        for &p in list {
            let bound = 1.0 + score(p);
            if in_band == 0 || (near.len() == in_band && bound <= near[in_band - 1].1) {
                break;
            }
            if !fits(p) {
                continue;
            }
            let value = band_affinity(shop.product(p).price as f32, &band) * bound;
            // After equal values: earlier in the bestseller list wins ties.
            let at = near.partition_point(|e| e.1 >= value);
            if at < in_band {
                near.insert(at, (p, value));
                near.truncate(in_band);
            }
        }
        out.extend(near.iter().take(in_band).map(|&(p, s)| Candidate {
            product: p,
            score: s,
            why: Why::InBand,
        }));
    }
    // The rest: one range of catalogue prices per remaining slot; walking the bestseller list,
    // each range keeps the first allowed product that falls in it.
    let ranges = slots - out.len();
    if ranges > 0 {
        let n = shop.products.len().max(1);
        let mut filled = vec![false; ranges];
        let mut left = ranges;
        let list: &[u32] = match category {
            Some(c) => &shop.by_category[c as usize],
            None => &shop.by_bestseller,
        };
        for &p in list {
            if left == 0 {
                break;
            }
            let range = shop.price_rank[p as usize] as usize * ranges / n;
            if filled[range] || !fits(p) || out.iter().any(|c| c.product == p) {
                continue;
            }
            filled[range] = true;
            left -= 1;
            out.push(Candidate {
                product: p,
                score: score(p),
                why: Why::PriceLevel(shop.buyers[p as usize]),
            });
        }
    }
    out
}

/// Content likeness of `q` to `p`: same category path 1, same top category 0.5; shared
/// attribute values 0.3 × the share of `p`'s attributes; same brand 0.2; price proximity
/// 0.5 × (1 − |Δprice| / the larger price).
pub fn likeness(a: &Product, b: &Product) -> f32 {
    let mut s = if a.category == b.category {
        1.0
    } else if a.top_category() == b.top_category() {
        0.5
    } else {
        0.0
    };
    if !a.attributes.is_empty() {
        let shared = a
            .attributes
            .iter()
            .filter(|(k, v)| b.attributes.get(*k) == Some(*v))
            .count();
        s += 0.3 * shared as f32 / a.attributes.len() as f32;
    }
    if a.brand.is_some() && a.brand == b.brand {
        s += 0.2;
    }
    let larger = a.price.max(b.price);
    if larger > 0.0 {
        s += 0.5 * (1.0 - ((a.price - b.price).abs() / larger) as f32);
    }
    s
}

/// Similar products: for the page's product, its co-viewed neighbours (weights scaled so the
/// strongest is 1) plus content likeness ([`likeness`]) over the 300 best-selling products of
/// its top category;
/// score = 2 × co-viewed + likeness. The reason names the larger part.
pub fn similar(ask: &Ask) -> Vec<Candidate> {
    let shop = ask.shop;
    let Some(source) = ask.context.product else {
        return Vec::new();
    };
    let mut scores: IdMap<u32, (f32, f32)> = IdMap::default();
    let row = &shop.co_viewed.neighbours[source as usize];
    let strongest = row.iter().map(|e| e.1).fold(0.0f32, f32::max);
    if strongest > 0.0 {
        for &(p, w) in row {
            if w > 0.0 && p != source {
                scores.entry(p).or_default().0 = 2.0 * w / strongest;
            }
        }
    }
    let me = shop.product(source);
    // Content: the category's best-selling products (at most SIMILAR_CONTENT of them).
    for &p in shop.by_category[shop.category_of(source) as usize]
        .iter()
        .take(SIMILAR_CONTENT)
    {
        if p != source && (ask.allowed)(p) {
            scores.entry(p).or_default().1 = likeness(me, shop.product(p));
        }
    }
    let mut out: Vec<Candidate> = scores
        .into_iter()
        .filter(|(p, _)| (ask.allowed)(*p))
        .map(|(p, (co, like))| Candidate {
            product: p,
            score: co + like,
            why: if co >= like {
                Why::CoViewed(source)
            } else {
                Why::LooksLike(source)
            },
        })
        .collect();
    sort_candidates(&mut out);
    out.truncate(ask.want);
    out
}

fn sort_candidates(list: &mut [Candidate]) {
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.product.cmp(&b.product)));
}

/// Keeps the `n` best candidates, best first (a partial selection, then a sort of those).
fn best_n(list: &mut Vec<Candidate>, n: usize) {
    let better =
        |a: &Candidate, b: &Candidate| b.score.total_cmp(&a.score).then(a.product.cmp(&b.product));
    if list.len() > n && n > 0 {
        list.select_nth_unstable_by(n - 1, better);
    }
    list.truncate(n);
    list.sort_unstable_by(better);
}

/// Sums `sources`' rows of a table; each product keeps the source that contributed most.
fn through_table(
    ask: &Ask,
    relation: Relation,
    sources: &[(u32, f32)],
    why: fn(u32) -> Why,
) -> Vec<Candidate> {
    let table = ask.shop.table(relation);
    let mut scores: IdMap<u32, (f32, u32, f32)> = IdMap::default();
    for &(source, weight) in sources {
        let Some(row) = table.neighbours.get(source as usize) else {
            continue;
        };
        for &(p, w) in row {
            let part = weight * w;
            let e = scores.entry(p).or_insert((0.0, source, f32::NEG_INFINITY));
            e.0 += part;
            if part > e.2 {
                e.1 = source;
                e.2 = part;
            }
        }
    }
    let mut own: Vec<u32> = sources.iter().map(|s| s.0).collect();
    own.sort_unstable();
    let mut out: Vec<Candidate> = scores
        .into_iter()
        .filter(|&(p, (s, _, _))| s > 0.0 && own.binary_search(&p).is_err() && (ask.allowed)(p))
        .map(|(p, (s, source, _))| Candidate {
            product: p,
            score: s,
            why: why(source),
        })
        .collect();
    best_n(&mut out, ask.want);
    out
}

/// Bought together / cart cross-sell: the bought-together rows of the page's product and of
/// the cart (the page's, else the visitor's), summed.
pub fn bought_together(ask: &Ask) -> Vec<Candidate> {
    let cart = if ask.context.cart.is_empty() {
        &ask.visitor.cart
    } else {
        &ask.context.cart
    };
    let mut sources: Vec<(u32, f32)> = cart.iter().map(|&p| (p, 1.0)).collect();
    if let Some(p) = ask.context.product {
        sources.retain(|s| s.0 != p);
        sources.insert(0, (p, 1.0));
    }
    through_table(ask, Relation::BoughtTogether, &sources, Why::BoughtWith)
}

/// Personal: the visitor's history ([`Visitor::history`]: views fading, carts and purchases
/// weighing more) through both tables (bought-together rows count double), so a guest's first
/// views already change it.
pub fn personal(ask: &Ask) -> Vec<Candidate> {
    let history = ask.visitor.history();
    let mut a = through_table(ask, Relation::CoViewed, &history, Why::Because);
    let doubled: Vec<(u32, f32)> = history.iter().map(|&(p, w)| (p, 2.0 * w)).collect();
    let b = through_table(ask, Relation::BoughtTogether, &doubled, Why::Because);
    for c in b {
        match a.iter_mut().find(|x| x.product == c.product) {
            Some(x) => {
                if c.score > x.score {
                    x.why = c.why;
                }
                x.score += c.score;
            }
            None => a.push(c),
        }
    }
    sort_candidates(&mut a);
    a.truncate(ask.want);
    a
}

/// Recently viewed: the visitor's viewed products, latest first.
pub fn recently_viewed(ask: &Ask) -> Vec<Candidate> {
    ask.visitor
        .viewed
        .iter()
        .rev()
        .filter(|(p, _)| (ask.allowed)(*p))
        .take(ask.want)
        .enumerate()
        .map(|(i, &(p, _))| Candidate {
            product: p,
            score: 1.0 / (1.0 + i as f32),
            why: Why::RecentlyViewed,
        })
        .collect()
}

/// Neighbours kept per product in the stored tables.
pub const NEIGHBOURS_KEPT: usize = 30;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn product(id: &str, category: &str, price: f64) -> Product {
        Product {
            id: id.into(),
            title: format!("T{id}"),
            price,
            old_price: None,
            currency: "EUR".into(),
            category: category.into(),
            available: true,
            image: String::new(),
            url: String::new(),
            brand: None,
            attributes: Default::default(),
        }
    }

    fn daily(id: &str, kind: InteractionKind, day: i64, visitors: u32) -> DailyInteraction {
        DailyInteraction {
            product_id: id.into(),
            kind,
            day,
            visitors,
        }
    }

    fn ids(shop: &Shop, list: &[Candidate]) -> Vec<String> {
        list.iter()
            .map(|c| shop.product(c.product).id.clone())
            .collect()
    }

    fn ask<'a>(
        shop: &'a Shop,
        visitor: &'a Visitor,
        context: &'a Context,
        allowed: &'a dyn Fn(u32) -> bool,
        want: usize,
    ) -> Ask<'a> {
        Ask {
            shop,
            visitor,
            context,
            allowed,
            want,
            slots: want,
            in_category: false,
        }
    }

    const NOW: i64 = 100 * DAY_MS + 5;

    /// Event properties as profiles read them, from a JSON value.
    pub(crate) fn props(v: Value) -> UpdateProperties<'static> {
        serde::Deserialize::deserialize(v).unwrap()
    }

    #[test]
    fn bestsellers_and_trending_decay_with_their_half_lives() {
        use InteractionKind::*;
        // a: 2 purchases 14 days ago → bestseller 20 × 0.5 = 10; trending 20 × 2^-14 ≈ 0.0012.
        // b: 3 views today → 3 and 3. c: 1 cart 1 day ago → 3 × 2^(-1/14) = 2.853; trending 1.5.
        let shop = Shop::new(
            vec![
                product("a", "K", 1.0),
                product("b", "K", 1.0),
                product("c", "B", 1.0),
                product("d", "B", 1.0),
            ],
            &[],
            &[
                daily("a", Purchase, 86, 2),
                daily("b", View, 100, 3),
                daily("c", Cart, 99, 1),
                daily("zz", Purchase, 100, 9),
            ],
            NOW,
        );
        assert!((shop.bestseller_score[0] - 10.0).abs() < 1e-4);
        assert!((shop.bestseller_score[2] - 3.0 * 0.5f32.powf(1.0 / 14.0)).abs() < 1e-4);
        assert!((shop.trending_score[2] - 1.5).abs() < 1e-6);
        let (v, c) = (Visitor::default(), Context::default());
        let all = |_| true;
        let best = bestsellers(&ask(&shop, &v, &c, &all, 10));
        assert_eq!(ids(&shop, &best), ["a", "b", "c", "d"]);
        assert_eq!(best[0].why.describe(&shop), "bestseller: bought 2 times");
        assert_eq!(best[1].why, Why::Popular);
        assert_eq!(best[3].why, Why::Catalogue);
        let trend = trending(&ask(&shop, &v, &c, &all, 10));
        assert_eq!(
            ids(&shop, &trend),
            ["b", "c", "a"],
            "d nobody chose: not trending"
        );
        // Per category: the context product's top category.
        let ctx = Context {
            product: Some(3),
            ..Context::default()
        };
        let mut a = ask(&shop, &v, &ctx, &all, 10);
        a.in_category = true;
        assert_eq!(ids(&shop, &bestsellers(&a)), ["c", "d"]);
        assert_eq!(ids(&shop, &trending(&a)), ["c"]);
    }

    #[test]
    fn new_arrivals_latest_first_then_later_in_feed() {
        let shop = Shop::new(
            vec![
                product("a", "K", 1.0),
                product("b", "K", 1.0),
                product("c", "K", 1.0),
            ],
            &[5, 9, 5],
            &[],
            NOW,
        );
        let (v, c) = (Visitor::default(), Context::default());
        let list = new_arrivals(&ask(&shop, &v, &c, &|p| p != 0, 10));
        assert_eq!(ids(&shop, &list), ["b", "c"]);
        assert_eq!(list[0].why.describe(&shop), "new arrival");
    }

    fn priced_shop() -> Shop {
        // Eight products priced 10..80; bestseller order h, g, ..., a (h sold most).
        let products: Vec<Product> = (0..8)
            .map(|i| {
                product(
                    &((b'a' + i) as char).to_string(),
                    "K",
                    10.0 * (i + 1) as f64,
                )
            })
            .collect();
        let interactions: Vec<DailyInteraction> = (0..8u32)
            .map(|i| {
                daily(
                    &((b'a' + i as u8) as char).to_string(),
                    InteractionKind::Purchase,
                    100,
                    i + 1,
                )
            })
            .collect();
        Shop::new(products, &[], &interactions, NOW)
    }

    #[test]
    fn cold_start_spreads_across_prices_then_shifts_to_the_band() {
        let shop = priced_shop();
        let c = Context::default();
        let all = |_| true;
        // No history: 4 price ranges of 2 products (10-20, 30-40, 50-60, 70-80); each range's
        // best is its dearer product: b, d, f, h, listed by bestseller rank.
        let v = Visitor::default();
        let list = cold_start(&ask(&shop, &v, &c, &all, 4));
        assert_eq!(ids(&shop, &list), ["h", "f", "d", "b"]);
        assert_eq!(
            list[0].why.describe(&shop),
            "popular at its price level (bought 8 times)"
        );
        // One view at 20: band [20, 20], 1 of 5 views → ceil(4/5) = 1 item near the band: b
        // (affinity 1 × (1 + 20)); the other 3 slots are 3 price ranges of the catalogue
        // (a-c, d-f, g-h): walking h, g, f, ... the first of each range: h, f, c.
        let mut v = Visitor::default();
        v.observe(
            &shop,
            ecommerce::PRODUCT_VIEWED,
            &props(json!({"product_id": "b", "price": 20})),
            1,
        );
        let list = cold_start(&ask(&shop, &v, &c, &all, 4));
        assert_eq!(list[0].why, Why::InBand);
        assert_eq!(ids(&shop, &list)[0], "b");
        assert_eq!(ids(&shop, &list)[1..], ["h", "f", "c"]);
        // Five views (20, 20, 30, 30, 20): band 20-30 (width 10), every item near it. Scores
        // affinity × (1 + bestseller score): c 1 × 31, b 1 × 21, d 0.5 × 41 = 20.5,
        // e 0.25 × 51 = 12.75, a 0.5 × 11 = 5.5.
        for price in [20, 30, 30, 20] {
            v.observe(
                &shop,
                ecommerce::PRODUCT_VIEWED,
                &props(json!({"product_id": "c", "price": price})),
                2,
            );
        }
        let list = cold_start(&ask(&shop, &v, &c, &all, 4));
        assert!(list.iter().all(|c| c.why == Why::InBand));
        assert_eq!(ids(&shop, &list), ["c", "b", "d", "e"]);
    }

    #[test]
    fn band_affinity_halves_per_band_width() {
        let band = Band {
            low: 20.0,
            median: 25.0,
            high: 30.0,
        };
        assert_eq!(band_affinity(25.0, &band), 1.0);
        assert!((band_affinity(40.0, &band) - 0.5).abs() < 1e-6);
        assert!((band_affinity(0.0, &band) - 0.25).abs() < 1e-6);
    }

    #[test]
    fn likeness_adds_category_attributes_brand_and_price() {
        let mut a = product("a", "Home > Lamps", 100.0);
        let mut b = product("b", "Home > Lamps", 50.0);
        a.attributes.insert("colour".into(), "red".into());
        a.attributes.insert("size".into(), "L".into());
        b.attributes.insert("colour".into(), "red".into());
        a.brand = Some("X".into());
        b.brand = Some("X".into());
        // 1 + 0.3 × 1/2 + 0.2 + 0.5 × (1 − 50/100) = 1.6
        assert!((likeness(&a, &b) - 1.6).abs() < 1e-6);
        let c = product("c", "Home > Rugs", 100.0);
        // 0.5 + 0 + 0 + 0.5 = 1.0
        assert!((likeness(&a, &c) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn similar_mixes_co_views_and_content() {
        let mut shop = Shop::new(
            vec![
                product("a", "K > Pots", 10.0),
                product("b", "K > Pots", 10.0),
                product("c", "K > Pans", 40.0),
                product("d", "B", 10.0),
            ],
            &[],
            &[],
            NOW,
        );
        // a's co-viewed row: c 0.6, d 0.3 → scaled 2 × (1, 0.5) = 2 and 1.
        shop.set_neighbours(
            Relation::CoViewed,
            "a",
            &[("c".into(), 0.6), ("d".into(), 0.3)],
        );
        let (v, all) = (Visitor::default(), |_| true);
        let ctx = Context {
            product: Some(0),
            ..Context::default()
        };
        let list = similar(&ask(&shop, &v, &ctx, &all, 10));
        // b: likeness 1 + 0.5 = 1.5; c: 2 + (0.5 + 0.5 × 0.25) = 2.625; d: 1 + 0 (other category).
        assert_eq!(ids(&shop, &list), ["c", "b", "d"]);
        assert!((list[0].score - 2.625).abs() < 1e-6);
        assert_eq!(
            list[0].why.describe(&shop),
            "visitors who viewed Ta also viewed it"
        );
        assert_eq!(list[1].why.describe(&shop), "similar to Ta");
    }

    #[test]
    fn bought_together_and_personal_follow_the_tables() {
        let mut shop = Shop::new(
            vec![
                product("a", "K", 1.0),
                product("b", "K", 1.0),
                product("c", "K", 1.0),
                product("d", "K", 1.0),
                product("e", "K", 1.0),
            ],
            &[],
            &[],
            NOW,
        );
        shop.set_neighbours(
            Relation::BoughtTogether,
            "a",
            &[("b".into(), 0.5), ("c".into(), 0.2)],
        );
        shop.set_neighbours(Relation::BoughtTogether, "d", &[("c".into(), 0.4)]);
        shop.set_neighbours(
            Relation::CoViewed,
            "e",
            &[("b".into(), 0.1), ("d".into(), 0.3)],
        );
        let all = |_| true;
        let v = Visitor::default();
        // Cart {a, d}: b 0.5 (from a), c 0.2 + 0.4 = 0.6 (from d).
        let ctx = Context {
            cart: vec![0, 3],
            ..Context::default()
        };
        let list = bought_together(&ask(&shop, &v, &ctx, &all, 10));
        assert_eq!(ids(&shop, &list), ["c", "b"]);
        assert_eq!(list[0].why.describe(&shop), "bought together with Td");
        // Personal: viewed e then a (latest a weighs 1, e 0.9).
        let mut v = Visitor::default();
        v.observe(
            &shop,
            ecommerce::PRODUCT_VIEWED,
            &props(json!({"product_id": "e"})),
            1,
        );
        v.observe(
            &shop,
            ecommerce::PRODUCT_VIEWED,
            &props(json!({"product_id": "a"})),
            2,
        );
        assert_eq!(v.history(), vec![(4, 0.9), (0, 1.0)]);
        let c = Context::default();
        let list = personal(&ask(&shop, &v, &c, &all, 10));
        // b: 0.9 × 0.1 + 2 × 0.5 = 1.09 (from a); d: 0.27 (from e); c: 2 × 0.2 = 0.4.
        assert_eq!(ids(&shop, &list), ["b", "c", "d"]);
        assert!((list[0].score - 1.09).abs() < 1e-6);
        assert_eq!(list[0].why, Why::Because(0));
        assert_eq!(list[2].why, Why::Because(4));
        // Buying b weighs 10 and removes nothing else; its own history is never recommended.
        v.observe(
            &shop,
            ecommerce::ORDER_COMPLETED,
            &props(json!({"products": [{"product_id": "b"}]})),
            3,
        );
        assert!(!ids(&shop, &personal(&ask(&shop, &v, &c, &all, 10))).contains(&"b".to_string()));
    }

    #[test]
    fn profile_keys_of_sequential_ids_do_not_collide() {
        let mut keys: Vec<u64> = (0..200_000)
            .map(|v| Profiles::key(&format!("v-{v:08}")))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 200_000);
    }

    #[test]
    fn typed_updates_fold_like_values() {
        let shop = priced_shop();
        let events = [
            r#"{"event":"Product Viewed","anonymousId":"v1","properties":{"product_id":"a","price":"10"},"context":{"x":[1,2]}}"#,
            r#"{"event":"Product Viewed","anonymousId":"v1","properties":{"product_id":"b","price":30.5,"name":"B \"quoted\""}}"#,
            r#"{"event":"Cart Updated","anonymousId":"v1","properties":{"products":[{"product_id":"c","quantity":1},{"product_id":7}]}}"#,
            r#"{"event":"Recommendation Block Viewed","anonymousId":"v1","properties":{"product_ids":["d","e"]}}"#,
            r#"{"event":"Order Completed","anonymousId":"v1","properties":{"products":[{"product_id":"c"}]}}"#,
            r#"{"event":"Something Else","anonymousId":"v1"}"#,
        ];
        let mut typed = Visitor::default();
        for (i, text) in events.iter().enumerate() {
            let update = ProfileUpdate::parse(text).unwrap();
            assert_eq!(update.anonymous_id.as_deref(), Some("v1"));
            typed.apply(&shop, update, i as i64);
            assert!(validate_event(text) && parse_event(text).is_some());
        }
        // Views a, b; the unknown product 7 is skipped; the order of c empties the cart.
        assert_eq!(typed.viewed, vec![(0, 0), (1, 1)]);
        assert!(typed.cart.is_empty());
        assert_eq!(typed.purchased, vec![2]);
        assert_eq!(typed.shown, vec![(3, 3), (4, 3)]);
        assert_eq!(typed.prices, vec![10.0, 30.5]);
        assert!(ProfileUpdate::parse("{not json").is_none() && !validate_event("[1,"));
    }

    #[test]
    fn keyed_updates_fold_as_the_collectors_properties_do() {
        // The in-memory path (product IDs reduced to keys while parsing) and the collector's
        // (IDs kept as text, `Visitor::observe`) must build the same profile from any event.
        let mut products: Vec<Product> = ["a", "b", "7", "2.5", "x\"y"]
            .iter()
            .map(|id| product(id, "K", 10.0))
            .collect();
        products.push(product("a", "K", 99.0)); // A repeated ID: the last one counts.
        let shop = Shop::new(products, &[], &[], 0);
        let events = [
            r#"{"event":"Product Viewed","anonymousId":"v","properties":{"product_id":"a","price":"12.5 "}}"#,
            r#"{"event":"Product Viewed","anonymousId":"v","properties":{"product_id":7,"price":-1}}"#,
            r#"{"event":"Product Viewed","anonymousId":"v","properties":{"product_id":2.5,"price":"n/a"}}"#,
            r#"{"event":"Product Viewed","anonymousId":"v","properties":{"product_id":"x\"y","price":"inf"}}"#,
            r#"{"event":"Product Viewed","anonymousId":"v","properties":{"product_id":"\u0062","price":3}}"#,
            r#"{"event":"Product Viewed","anonymousId":"v","properties":{"product_id":"nope","price":4}}"#,
            r#"{"event":"Cart Updated","anonymousId":"v","properties":{"products":[{"product_id":"b"},{"product_id":null},{"quantity":2},{"product_id":7},{"product_id":"b"}]}}"#,
            r#"{"event":"Recommendation Block Viewed","anonymousId":"v","properties":{"product_ids":["a",7,"zz"]}}"#,
            r#"{"event":"Order Completed","anonymousId":"v","properties":{"products":[{"product_id":"2.5"}],"total":9}}"#,
            r#"{"event":"Cart Updated","anonymousId":"v","properties":{}}"#,
        ];
        let (mut keyed, mut texts) = (Visitor::default(), Visitor::default());
        for (i, text) in events.iter().enumerate() {
            keyed.apply(&shop, ProfileUpdate::parse(text).expect(text), i as i64);
            let v: Value = serde_json::from_str(text).unwrap();
            let name = v["event"].as_str().unwrap();
            texts.observe(&shop, name, &props(v["properties"].clone()), i as i64);
            assert_eq!(keyed, texts, "after {text}");
        }
        // Views of a (number 5, the repeated ID), 7 (2), 2.5 (3), x"y (4) and b (1).
        assert_eq!(
            keyed.viewed.iter().map(|v| v.0).collect::<Vec<_>>(),
            vec![5, 2, 3, 4, 1]
        );
        assert_eq!(keyed.prices, vec![12.5, 3.0, 4.0]);
        assert_eq!(keyed.purchased, vec![3]);
        assert_eq!(
            keyed.shown.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![5, 2]
        );
        // An event whose product_ids hold something that is no ID is refused by both.
        let bad = r#"{"event":"Recommendation Block Viewed","anonymousId":"v","properties":{"product_ids":["a",null]}}"#;
        assert!(ProfileUpdate::parse(bad).is_none());
        assert!(serde_json::from_str::<UpdateProperties>(r#"{"product_ids":["a",null]}"#).is_err());
    }

    #[test]
    fn kept_prices_are_the_latest_fifty() {
        let shop = priced_shop();
        let mut v = Visitor::default();
        for i in 1..=60 {
            v.fold(
                &Change::Viewed {
                    product: None,
                    price: Some(i as f32),
                },
                i,
            );
        }
        let mut kept = v.prices.clone();
        kept.sort_by(f32::total_cmp);
        let latest: Vec<f32> = (11..=60).map(|i| i as f32).collect();
        assert_eq!(kept, latest);
        assert_eq!(v.priced_views, 60);
        // The band reads the latest fifty: 11..=60 has quartiles 23.25, 35.5, 47.75.
        assert_eq!(
            v.band(),
            Some(Band {
                low: 23.25,
                median: 35.5,
                high: 47.75
            })
        );
        // Unknown products and invalid prices change nothing.
        let before = v.clone();
        v.observe(
            &shop,
            ecommerce::PRODUCT_VIEWED,
            &props(json!({"product_id": "nope", "price": -3})),
            61,
        );
        assert_eq!(v, before);
    }

    #[test]
    fn pipelined_profiles_fold_every_event_in_order() {
        let shop = priced_shop();
        let ids = ["a", "b", "c", "d", "e"];
        let mut texts = Vec::new();
        for i in 0..40usize {
            // Three visitors interleaved, then one visitor's events back to back.
            let visitor = if i >= 34 {
                "v9".to_string()
            } else {
                format!("v{}", i % 3 + i / 20)
            };
            let product = ids[(i * 7) % 5];
            let text = match i % 4 {
                0 | 1 => format!(
                    r#"{{"event":"Product Viewed","anonymousId":"{visitor}","properties":{{"product_id":"{product}","price":{i}}}}}"#
                ),
                2 => format!(
                    r#"{{"event":"Cart Updated","anonymousId":"{visitor}","properties":{{"products":[{{"product_id":"{product}"}},{{"product_id":"a"}}]}}}}"#
                ),
                _ => format!(
                    r#"{{"event":"Order Completed","anonymousId":"{visitor}","properties":{{"products":[{{"product_id":"{product}"}}]}}}}"#
                ),
            };
            texts.push((visitor, text));
        }
        let mut profiles = Profiles::new(&shop);
        let mut expected: HashMap<String, Visitor> = HashMap::new();
        for (i, (visitor, text)) in texts.iter().enumerate() {
            assert!(profiles.update(text, i as i64));
            let update = ProfileUpdate::parse(text).unwrap();
            expected
                .entry(visitor.clone())
                .or_default()
                .apply(&shop, update, i as i64);
        }
        assert!(!profiles.update("{not json", 99));
        assert!(!profiles.update(r#"{"event":"Product Viewed"}"#, 99));
        // No event is lost or reordered by the pipeline: get() folds the ones held back.
        assert_eq!(profiles.count(), expected.len());
        for (visitor, v) in &expected {
            assert_eq!(profiles.get(visitor), Some(v), "{visitor}");
            assert!(!v.viewed.is_empty());
        }
        assert_eq!(profiles.get("nobody"), None);
        // An update is visible to get() right after it.
        assert!(profiles.update(
            r#"{"event":"Product Viewed","anonymousId":"new","properties":{"product_id":"e"}}"#,
            100
        ));
        assert_eq!(
            profiles.get("new").map(|v| v.viewed.clone()),
            Some(vec![(4, 100)])
        );
    }

    #[test]
    fn visitor_folds_views_cart_orders_and_impressions() {
        let shop = priced_shop();
        let mut v = Visitor::default();
        v.observe(
            &shop,
            ecommerce::PRODUCT_VIEWED,
            &props(json!({"product_id": "a", "price": "10"})),
            1,
        );
        v.observe(
            &shop,
            ecommerce::PRODUCT_VIEWED,
            &props(json!({"product_id": "b", "price": 30})),
            2,
        );
        v.observe(
            &shop,
            ecommerce::PRODUCT_VIEWED,
            &props(json!({"product_id": "a", "price": 10})),
            3,
        );
        v.observe(
            &shop,
            ecommerce::CART_UPDATED,
            &props(json!({"products": [{"product_id": "c"}, {"product_id": "unknown"}]})),
            4,
        );
        v.observe(
            &shop,
            protocol::experiment::BLOCK_VIEWED,
            &props(json!({"product_ids": ["d", "e"]})),
            5,
        );
        assert_eq!(v.viewed, vec![(1, 2), (0, 3)]);
        assert_eq!(v.cart, vec![2]);
        assert_eq!(v.shown, vec![(3, 5), (4, 5)]);
        // Prices 10, 30, 10: quartiles 10, 10, 20.
        assert_eq!(
            v.band(),
            Some(Band {
                low: 10.0,
                median: 10.0,
                high: 20.0
            })
        );
        v.observe(
            &shop,
            ecommerce::ORDER_COMPLETED,
            &props(json!({"products": [{"product_id": "c"}]})),
            6,
        );
        assert!(v.cart.is_empty());
        assert_eq!(v.purchased, vec![2]);
        let c = Context::default();
        let list = recently_viewed(&ask(&shop, &v, &c, &|_| true, 10));
        assert_eq!(ids(&shop, &list), ["a", "b"]);
    }
}
