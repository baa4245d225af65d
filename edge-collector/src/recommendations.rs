//! `GET /v1/recommendations?placement=home&product=..&cart=a,b&category=..&limit=8`: a block
//! served by the engine (`engine::recommend_placement::serve`) for the placement's
//! configuration (`placements` table, else the built-in default), from the catalogue, the
//! popularity of the last 30 days, the item-to-item tables the cron refresh stores
//! (`neighbours`), and the visitor's own latest events read at request time, so an event
//! changes the visitor's next block. The visitor is the `anonymousId` parameter, else the
//! visitor cookie: guests get recommendations from their own session's events.

use engine::catalogue::Product;
use engine::recommend::InteractionKind;
use engine::recommend_placement::{default_placement, serve as serve_block, Placement};
use engine::recommenders::{
    Context, DailyInteraction, Relation, Scalar, Shop, UpdateProperties, Visitor, DAY_MS,
};
use protocol::ecommerce;
use protocol::event::ValidEvent;
use protocol::ids::{cookie_value, VISITOR_COOKIE, VISITOR_COOKIE_SERVER_COPY};
use protocol::recommendation::{self as reco, RecommendationBlock, RecommendedItem};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use worker::{wasm_bindgen::JsValue, D1Database, Date, Env, Request, Response, Result};

use crate::popularity::{self, WINDOW_MS};
use crate::profiles::current_profile;
use crate::reply;

/// Latest events of the visitor read per request.
const VISITOR_EVENTS: u32 = 300;
/// Most products named in `cart` (the widgets send no more).
const MAX_CART: usize = reco::MAX_CART;

/// The available catalogue (cached per isolate, see [`forget`]).
pub(crate) const LOAD_CATALOGUE: &str =
    "SELECT id, title, price, old_price, currency, category, available, \
    image, url, brand, attributes, COALESCE(added_at_ms, updated_at_ms) AS added_at_ms \
    FROM products WHERE site_id = ?1 AND available = 1 ORDER BY feed_position";

/// One sold-out product: the page's own (for its neighbours and category).
pub(crate) const LOAD_SOLD_OUT_ONE: &str =
    "SELECT id, title, price, old_price, currency, category, available, \
    image, url, brand, attributes, COALESCE(added_at_ms, updated_at_ms) AS added_at_ms \
    FROM products WHERE site_id = ?1 AND id = ?2 AND available = 0";

/// All sold-out products, for a placement whose `filters.inStock` is off.
pub(crate) const LOAD_SOLD_OUT_ALL: &str =
    "SELECT id, title, price, old_price, currency, category, available, \
    image, url, brand, attributes, COALESCE(added_at_ms, updated_at_ms) AS added_at_ms \
    FROM products WHERE site_id = ?1 AND available = 0 ORDER BY feed_position";

pub(crate) const LOAD_PLACEMENT: &str =
    "SELECT config FROM placements WHERE site_id = ?1 AND name = ?2";

/// The visitor's latest events that recommenders read (newest first): this browser's, and
/// those of the customer's other devices once a login tied them to one profile (merges
/// followed), so a customer who bought on the laptop is not offered it again on the phone.
/// Each side reads at most `?3` events through its own index; `message_id` keeps an event
/// found by both once.
pub(crate) const LOAD_VISITOR_EVENTS: &str = concat!(
    current_profile!(),
    "SELECT event, event_time_ms, properties FROM ( \
      SELECT * FROM (SELECT message_id, event, event_time_ms, received_at_ms, \
          json_extract(raw, '$.properties') AS properties FROM events \
        WHERE site_id = ?1 AND anonymous_id = ?2 AND type = 'track' AND event IN (",
    visitor_events!(),
    ") ORDER BY received_at_ms DESC LIMIT ?3) \
      UNION \
      SELECT * FROM (SELECT message_id, event, event_time_ms, received_at_ms, \
          json_extract(raw, '$.properties') AS properties FROM events INDEXED BY events_by_profile \
        WHERE site_id = ?1 AND profile_id IN (SELECT id FROM mine) AND type = 'track' AND event IN (",
    visitor_events!(),
    ") ORDER BY received_at_ms DESC LIMIT ?3)) \
    ORDER BY received_at_ms DESC LIMIT ?3"
);

/// The events recommenders read of a visitor.
macro_rules! visitor_events {
    () => {
        "'Product Viewed', 'Cart Updated', 'Order Completed', 'Recommendation Block Viewed'"
    };
}
use visitor_events;

/// The neighbour rows of some products (`?2`, a JSON list of IDs).
pub(crate) const LOAD_NEIGHBOURS: &str =
    "SELECT relation, product_id, neighbours FROM product_neighbours \
    WHERE site_id = ?1 AND product_id IN (SELECT value FROM json_each(?2))";

/// The visitor's latest product views whose products' neighbours a block reads.
const HISTORY_VIEWS: usize = 20;
/// The visitor's latest cart and order events whose lines' neighbours a block reads.
const HISTORY_BASKETS: usize = 10;

#[derive(Deserialize)]
struct ProductRow {
    id: String,
    title: String,
    price: f64,
    old_price: Option<f64>,
    currency: String,
    category: String,
    available: i64,
    image: String,
    url: String,
    brand: Option<String>,
    attributes: Option<String>,
    added_at_ms: Option<f64>,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Product {
            id: r.id,
            title: r.title,
            price: r.price,
            old_price: r.old_price,
            currency: r.currency,
            category: r.category,
            available: r.available != 0,
            image: r.image,
            url: r.url,
            brand: r.brand,
            attributes: r
                .attributes
                .and_then(|a| serde_json::from_str(&a).ok())
                .unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct InteractionRow {
    product_id: String,
    kind: engine::recommend::InteractionKind,
    day: f64,
    visitors: f64,
}

#[derive(Deserialize)]
struct ConfigRow {
    config: String,
}

#[derive(Deserialize)]
struct EventRow {
    event: String,
    event_time_ms: f64,
    properties: Option<String>,
}

/// What a write changed, so [`forget`] drops only that part of this isolate's cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Products (a feed import or a retirement).
    Catalogue,
    /// Interaction counts (events erased with a profile).
    Interactions,
    /// Placement configurations.
    Placements,
    /// The item-to-item tables (a refresh).
    Neighbours,
}

impl Part {
    fn index(self) -> usize {
        self as usize
    }
}

/// When a cached entry was read and under which generation of its [`Part`]: it is used while
/// the generation is unchanged and it is younger than [`CACHE_MS`].
#[derive(Clone, Copy)]
struct Stamp {
    generation: u64,
    loaded_ms: i64,
}

/// A product and when it entered the catalogue.
type Listed = (Product, i64);

/// The interaction counts with the (visitor, product, kind, day) sightings [`record`] added
/// since they were read, so a visitor counts once per product, kind and day.
struct Interactions {
    stamp: Stamp,
    rows: Vec<DailyInteraction>,
    /// The row of each (product, kind, day), built by [`record`] when it is first called.
    row_of: HashMap<(String, InteractionKind, i64), usize>,
    added: HashSet<(String, String, InteractionKind, i64)>,
}

/// What requests of the site read the same way, kept in the isolate's memory for [`CACHE_MS`]:
/// the available catalogue, the interaction counts (kept current with the events this isolate
/// stores, see [`record`]), placement configurations, neighbour rows per product and sold-out
/// products. A write handled by this isolate drops the part it changed at once ([`forget`]);
/// other isolates see it after at most [`CACHE_MS`]. The visitor's own events are read on
/// every request, never cached.
#[derive(Default)]
struct Cache {
    site: String,
    generations: [u64; 4],
    catalogue: Option<(Stamp, Rc<Vec<Listed>>)>,
    interactions: Option<Interactions>,
    placements: HashMap<String, (Stamp, Rc<Placement>)>,
    neighbours: HashMap<String, (Stamp, Rc<NeighbourRows>)>,
    sold_out: HashMap<String, (Stamp, Option<Rc<Listed>>)>,
    sold_out_all: Option<(Stamp, Rc<Vec<Listed>>)>,
}

/// A product's stored neighbour rows, parsed.
type NeighbourRows = Vec<(Relation, Vec<(String, f32)>)>;

/// How long cached entries are reused.
const CACHE_MS: i64 = 30_000;
/// Entries per map of the cache before it is emptied (bounds memory on huge catalogues).
const CACHE_ENTRIES: usize = 50_000;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

impl Cache {
    /// The cache of `site` (a different site empties it).
    fn of(&mut self, site: &str) -> &mut Cache {
        if self.site != site {
            *self = Cache {
                site: site.to_string(),
                generations: self.generations,
                ..Cache::default()
            };
        }
        self
    }

    fn stamp(&self, part: Part, now: i64) -> Stamp {
        Stamp {
            generation: self.generations[part.index()],
            loaded_ms: now,
        }
    }

    fn fresh(&self, part: Part, stamp: Stamp, now: i64) -> bool {
        stamp.generation == self.generations[part.index()] && now - stamp.loaded_ms < CACHE_MS
    }
}

/// Drops this isolate's cached `part` (a write changed it).
pub fn forget(part: Part) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.generations[part.index()] = c.generations[part.index()].wrapping_add(1);
    });
}

/// Counts the events this isolate just stored into its cached interaction counts, as
/// `LOAD_INTERACTIONS` would count them: each (visitor, product, kind, day) once, bots left
/// out. A visitor already counted for the same product, kind and day before the counts were
/// read may count twice until they are read again (at most [`CACHE_MS`] later).
pub fn record<'a>(site: &str, received_ms: i64, events: impl Iterator<Item = &'a ValidEvent>) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.site != site {
            return;
        }
        let Some(counts) = c.interactions.as_mut() else {
            return;
        };
        let day = received_ms.div_euclid(DAY_MS);
        if counts.row_of.is_empty() {
            for (i, r) in counts.rows.iter().enumerate() {
                counts
                    .row_of
                    .insert((r.product_id.clone(), r.kind, r.day), i);
            }
        }
        for e in events {
            let kind = match e.name.as_deref() {
                Some(ecommerce::PRODUCT_VIEWED) => InteractionKind::View,
                Some(ecommerce::CART_UPDATED) => InteractionKind::Cart,
                Some(ecommerce::ORDER_COMPLETED) => InteractionKind::Purchase,
                _ => continue,
            };
            let Some(visitor) = e.user_id.as_ref().or(e.anonymous_id.as_ref()) else {
                continue;
            };
            let Ok(p) = serde_json::from_str::<UpdateProperties>(&e.properties) else {
                continue;
            };
            let products: Vec<String> = if kind == InteractionKind::View {
                p.product_id.iter().map(id_text).collect()
            } else {
                p.products
                    .iter()
                    .flatten()
                    .filter_map(|l| l.product_id.as_ref().map(id_text))
                    .collect()
            };
            for product in products {
                if !counts
                    .added
                    .insert((visitor.clone(), product.clone(), kind, day))
                {
                    continue;
                }
                // One row per product, kind and day, as read: a block's scoring stays
                // proportional to the catalogue, not to the traffic.
                let key = (product, kind, day);
                match counts.row_of.get(&key) {
                    Some(&i) => counts.rows[i].visitors += 1,
                    None => {
                        counts.row_of.insert(key.clone(), counts.rows.len());
                        counts.rows.push(DailyInteraction {
                            product_id: key.0,
                            kind,
                            day,
                            visitors: 1,
                        });
                    }
                }
            }
        }
        // Bounded memory under heavy traffic: past the limit, the next block reads the counts
        // again (the folded ones plus the events since the fold).
        if counts.added.len() > SIGHTINGS_KEPT {
            c.interactions = None;
        }
    });
}

/// Sightings [`record`] keeps before the counts are read again.
const SIGHTINGS_KEPT: usize = 100_000;

/// A product ID as SQLite's `CAST(... AS TEXT)` writes it.
fn id_text(id: &Scalar) -> String {
    match id {
        Scalar::Text(t) => t.to_string(),
        Scalar::Number(n) => n.to_string(),
    }
}

/// A stored neighbour row.
#[derive(Deserialize)]
pub(crate) struct NeighbourRow {
    pub relation: String,
    pub product_id: String,
    pub neighbours: String,
}

/// What the request asks for.
struct Query {
    placement: String,
    limit: usize,
    product: Option<String>,
    cart: Vec<String>,
    category: Option<String>,
    visitor: Option<String>,
}

fn query(req: &Request) -> Result<std::result::Result<Query, Response>> {
    let url = req.url()?;
    let mut q = Query {
        placement: "home".into(),
        limit: reco::DEFAULT_LIMIT,
        product: None,
        cart: Vec::new(),
        category: None,
        visitor: None,
    };
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            reco::PLACEMENT => {
                if !engine::recommend_placement::valid_name(&value) {
                    let msg = "`placement` must be 1-64 of a-z, 0-9, - and _";
                    return Ok(Err(reply::error(400, "invalid_placement", msg)?));
                }
                q.placement = value.into_owned();
            }
            reco::PRODUCT => q.product = Some(value.chars().take(256).collect()),
            reco::CATEGORY => q.category = Some(value.chars().take(256).collect()),
            reco::ANONYMOUS_ID => q.visitor = Some(value.chars().take(128).collect()),
            reco::CART => {
                q.cart = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                if q.cart.len() > MAX_CART {
                    let msg = format!("`cart` may name at most {MAX_CART} products");
                    return Ok(Err(reply::error(400, "invalid_cart", msg)?));
                }
            }
            reco::LIMIT => match value.parse::<usize>() {
                Ok(n) if (1..=reco::MAX_LIMIT).contains(&n) => q.limit = n,
                _ => {
                    let msg = format!("`limit` must be a number from 1 to {}", reco::MAX_LIMIT);
                    return Ok(Err(reply::error(400, "invalid_limit", msg)?));
                }
            },
            _ => {}
        }
    }
    if q.visitor.is_none() {
        let cookies = req.headers().get("cookie")?.unwrap_or_default();
        q.visitor = cookie_value(&cookies, VISITOR_COOKIE)
            .or_else(|| cookie_value(&cookies, VISITOR_COOKIE_SERVER_COPY))
            .map(String::from);
    }
    Ok(Ok(q))
}

/// The placement's stored configuration, else its default.
pub(crate) fn placement_from(stored: Option<String>, name: &str) -> Placement {
    stored
        .and_then(|c| Placement::from_json(&c).ok())
        .unwrap_or_else(|| default_placement(name))
}

/// A statement of a request's round trip, and where its answer goes.
enum Load {
    VisitorEvents,
    Catalogue,
    Interactions,
    Placement,
    SoldOutOne(String),
    SoldOutAll,
    Neighbours(Vec<String>),
}

/// What the request read from D1 (the rest comes from the cache).
#[derive(Default)]
struct Read {
    events: Vec<EventRow>,
}

/// Runs `loads` in one round trip (none when empty) and puts the answers in the cache, stamped
/// with the generations of `stamps` (taken before the round trip, so a write handled
/// meanwhile makes them stale).
async fn read(
    db: &D1Database,
    site: &str,
    q: &Query,
    now: i64,
    loads: Vec<Load>,
    got: &mut Read,
) -> Result<()> {
    if loads.is_empty() {
        return Ok(());
    }
    let site_param = JsValue::from(site);
    let stamps: [Stamp; 4] = CACHE.with(|c| {
        let c = c.borrow();
        [
            c.stamp(Part::Catalogue, now),
            c.stamp(Part::Interactions, now),
            c.stamp(Part::Placements, now),
            c.stamp(Part::Neighbours, now),
        ]
    });
    let mut statements = Vec::with_capacity(loads.len());
    for load in &loads {
        let statement = match load {
            Load::VisitorEvents => db.prepare(LOAD_VISITOR_EVENTS).bind(&[
                site_param.clone(),
                JsValue::from(q.visitor.as_deref().unwrap_or("")),
                JsValue::from(VISITOR_EVENTS),
            ])?,
            Load::Catalogue => db
                .prepare(LOAD_CATALOGUE)
                .bind(std::slice::from_ref(&site_param))?,
            Load::Interactions => db.prepare(popularity::LOAD).bind(&[
                site_param.clone(),
                JsValue::from_f64((now - WINDOW_MS) as f64),
                JsValue::from_f64((now - WINDOW_MS).div_euclid(DAY_MS) as f64),
            ])?,
            Load::Placement => db
                .prepare(LOAD_PLACEMENT)
                .bind(&[site_param.clone(), JsValue::from(q.placement.as_str())])?,
            Load::SoldOutOne(id) => db
                .prepare(LOAD_SOLD_OUT_ONE)
                .bind(&[site_param.clone(), JsValue::from(id.as_str())])?,
            Load::SoldOutAll => db
                .prepare(LOAD_SOLD_OUT_ALL)
                .bind(std::slice::from_ref(&site_param))?,
            Load::Neighbours(ids) => {
                let ids = serde_json::to_string(ids)
                    .map_err(|e| worker::Error::RustError(e.to_string()))?;
                db.prepare(LOAD_NEIGHBOURS)
                    .bind(&[site_param.clone(), JsValue::from(ids)])?
            }
        };
        statements.push(statement);
    }
    let results = db.batch(statements).await?;
    if results.len() != loads.len() {
        return Err(worker::Error::RustError("D1 answered a short batch".into()));
    }
    let listed = |rows: Vec<ProductRow>| -> Vec<Listed> {
        rows.into_iter()
            .map(|r| {
                let added = r.added_at_ms.unwrap_or(0.0) as i64;
                (Product::from(r), added)
            })
            .collect()
    };
    // Parsed before the cache is borrowed.
    let mut answers = Vec::with_capacity(loads.len());
    for (load, result) in loads.into_iter().zip(results) {
        answers.push(match load {
            Load::VisitorEvents => {
                got.events = result.results()?;
                continue;
            }
            Load::Catalogue => Answer::Catalogue(listed(result.results()?)),
            Load::Interactions => Answer::Interactions(
                result
                    .results::<InteractionRow>()?
                    .into_iter()
                    .map(|r| DailyInteraction {
                        product_id: r.product_id,
                        kind: r.kind,
                        day: r.day as i64,
                        visitors: r.visitors as u32,
                    })
                    .collect(),
            ),
            Load::Placement => Answer::Placement(placement_from(
                result
                    .results::<ConfigRow>()?
                    .into_iter()
                    .next()
                    .map(|r| r.config),
                &q.placement,
            )),
            Load::SoldOutOne(id) => {
                Answer::SoldOutOne(id, listed(result.results()?).into_iter().next())
            }
            Load::SoldOutAll => Answer::SoldOutAll(listed(result.results()?)),
            Load::Neighbours(ids) => {
                let mut rows: HashMap<String, NeighbourRows> =
                    ids.into_iter().map(|id| (id, Vec::new())).collect();
                for r in result.results::<NeighbourRow>()? {
                    let (Some(relation), Ok(row)) = (
                        Relation::parse(&r.relation),
                        serde_json::from_str::<Vec<(String, f32)>>(&r.neighbours),
                    ) else {
                        continue;
                    };
                    rows.entry(r.product_id).or_default().push((relation, row));
                }
                Answer::Neighbours(rows)
            }
        });
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.of(site);
        let [catalogue, interactions, placements, neighbours] = stamps;
        for answer in answers {
            match answer {
                Answer::Catalogue(products) => c.catalogue = Some((catalogue, Rc::new(products))),
                Answer::Interactions(rows) => {
                    c.interactions = Some(Interactions {
                        stamp: interactions,
                        rows,
                        row_of: HashMap::new(),
                        added: HashSet::new(),
                    })
                }
                Answer::Placement(p) => {
                    bounded(&mut c.placements);
                    c.placements
                        .insert(q.placement.clone(), (placements, Rc::new(p)));
                }
                Answer::SoldOutOne(id, product) => {
                    bounded(&mut c.sold_out);
                    c.sold_out.insert(id, (catalogue, product.map(Rc::new)));
                }
                Answer::SoldOutAll(products) => {
                    c.sold_out_all = Some((catalogue, Rc::new(products)))
                }
                Answer::Neighbours(rows) => {
                    bounded(&mut c.neighbours);
                    for (id, row) in rows {
                        c.neighbours.insert(id, (neighbours, Rc::new(row)));
                    }
                }
            }
        }
    });
    Ok(())
}

/// A parsed answer of [`read`], put in the cache.
enum Answer {
    Catalogue(Vec<Listed>),
    Interactions(Vec<DailyInteraction>),
    Placement(Placement),
    SoldOutOne(String, Option<Listed>),
    SoldOutAll(Vec<Listed>),
    Neighbours(HashMap<String, NeighbourRows>),
}

/// Empties a cache map that grew past [`CACHE_ENTRIES`].
fn bounded<V>(map: &mut HashMap<String, V>) {
    if map.len() >= CACHE_ENTRIES {
        map.clear();
    }
}

/// The products whose neighbour rows a visitor's latest events make a block read: those of
/// the latest [`HISTORY_VIEWS`] product views and of the lines of the latest
/// [`HISTORY_BASKETS`] cart and order events (`events` newest first).
fn history_products(events: &[EventRow]) -> Vec<String> {
    let mut ids = Vec::new();
    let (mut views, mut baskets) = (0, 0);
    for e in events {
        let view = e.event == ecommerce::PRODUCT_VIEWED;
        let basket = e.event == ecommerce::CART_UPDATED || e.event == ecommerce::ORDER_COMPLETED;
        if !(view && views < HISTORY_VIEWS || basket && baskets < HISTORY_BASKETS) {
            continue;
        }
        let Some(p) = e
            .properties
            .as_deref()
            .and_then(|p| serde_json::from_str::<UpdateProperties>(p).ok())
        else {
            continue;
        };
        if view {
            views += 1;
            ids.extend(p.product_id.iter().map(id_text));
        } else {
            baskets += 1;
            ids.extend(
                p.products
                    .iter()
                    .flatten()
                    .filter_map(|l| l.product_id.as_ref().map(id_text)),
            );
        }
    }
    ids
}

/// Handles the recommendations request: the visitor's latest events are read from D1 on every
/// request; the rest comes from this isolate's cache ([`Cache`]), read in the same round trip
/// when missing. A second round trip happens only for what the first one revealed and the
/// cache lacks (the neighbours of the visitor's history, the sold-out products of a
/// placement that shows them).
pub async fn serve(req: Request, env: &Env) -> Result<Response> {
    let q = match query(&req)? {
        Ok(q) => q,
        Err(refusal) => return Ok(refusal),
    };
    let site = env.var("SITE_ID")?.to_string();
    let db = env.d1("DB")?;
    let now = Date::now().as_millis() as i64;
    let mut page: Vec<String> = q.product.iter().cloned().collect();
    page.extend(q.cart.iter().cloned());
    let mut got = Read::default();

    // First round trip: the visitor's events and whatever the cache lacks.
    let mut loads = Vec::new();
    if q.visitor.is_some() {
        loads.push(Load::VisitorEvents);
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.of(&site);
        let catalogue = c
            .catalogue
            .as_ref()
            .filter(|(s, _)| c.fresh(Part::Catalogue, *s, now));
        if catalogue.is_none() {
            loads.push(Load::Catalogue);
        }
        if let Some(id) = &q.product {
            let listed =
                catalogue.is_some_and(|(_, products)| products.iter().any(|(p, _)| &p.id == id));
            let known = c
                .sold_out
                .get(id)
                .is_some_and(|(s, _)| c.fresh(Part::Catalogue, *s, now));
            if !listed && !known {
                loads.push(Load::SoldOutOne(id.clone()));
            }
        }
        if !c
            .interactions
            .as_ref()
            .is_some_and(|i| c.fresh(Part::Interactions, i.stamp, now))
        {
            loads.push(Load::Interactions);
        }
        if !c
            .placements
            .get(&q.placement)
            .is_some_and(|(s, _)| c.fresh(Part::Placements, *s, now))
        {
            loads.push(Load::Placement);
        }
        let missing = missing_neighbours(c, &page, now);
        if !missing.is_empty() {
            loads.push(Load::Neighbours(missing));
        }
    });
    read(&db, &site, &q, now, loads, &mut got).await?;

    // Second round trip, when the first revealed needs the cache lacks.
    let history = history_products(&got.events);
    let mut loads = Vec::new();
    CACHE.with(|c| {
        let c = c.borrow();
        let shows_sold_out = c
            .placements
            .get(&q.placement)
            .is_some_and(|(_, p)| !p.filters.in_stock);
        if shows_sold_out
            && !c
                .sold_out_all
                .as_ref()
                .is_some_and(|(s, _)| c.fresh(Part::Catalogue, *s, now))
        {
            loads.push(Load::SoldOutAll);
        }
        let missing = missing_neighbours(&c, &history, now);
        if !missing.is_empty() {
            loads.push(Load::Neighbours(missing));
        }
    });
    read(&db, &site, &q, now, loads, &mut got).await?;

    // Everything is in the cache now (entries read by this request are used even if a write
    // made them stale meanwhile: they are what D1 answered).
    let answer = CACHE.with(|c| -> Result<Response> {
        let c = c.borrow();
        let missing = || worker::Error::RustError("the cache lost what was just read".into());
        let catalogue = c.catalogue.as_ref().ok_or_else(missing)?.1.clone();
        let placement = c
            .placements
            .get(&q.placement)
            .ok_or_else(missing)?
            .1
            .clone();
        let mut products = Vec::with_capacity(catalogue.len() + 1);
        let mut added_at = Vec::with_capacity(catalogue.len() + 1);
        for (p, at) in catalogue.iter() {
            products.push(p.clone());
            added_at.push(*at);
        }
        // Sold-out products are never in the available catalogue: the placement's own when
        // it shows them, else the page's product if it is sold out (an entry kept from when it
        // was, if the catalogue lists it again, is not used).
        let sold_out: &[Listed] = match (&c.sold_out_all, &q.product) {
            (Some((_, all)), _) if !placement.filters.in_stock => all,
            (_, Some(id)) if !catalogue.iter().any(|(p, _)| &p.id == id) => c
                .sold_out
                .get(id)
                .and_then(|(_, p)| p.as_deref())
                .map_or(&[], std::slice::from_ref),
            _ => &[],
        };
        for (p, at) in sold_out {
            products.push(p.clone());
            added_at.push(*at);
        }
        let interactions: &[DailyInteraction] =
            c.interactions.as_ref().map_or(&[], |i| i.rows.as_slice());
        let mut shop = Shop::new(products, &added_at, interactions, now);
        let mut visitor = Visitor::default();
        // Oldest first (the round trip read them newest first).
        let mut events: Vec<&EventRow> = got.events.iter().collect();
        events.sort_by(|a, b| a.event_time_ms.total_cmp(&b.event_time_ms));
        for e in events {
            // Only what profiles read is parsed, borrowed from the text.
            let properties: UpdateProperties = e
                .properties
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            visitor.observe(&shop, &e.event, &properties, e.event_time_ms as i64);
        }
        for id in page.iter().chain(&history) {
            if let Some((_, rows)) = c.neighbours.get(id) {
                for (relation, row) in rows.iter() {
                    shop.set_neighbours(*relation, id, row);
                }
            }
        }
        respond(&shop, q, &placement, &visitor, now)
    })?;
    Ok(answer)
}

/// Of `ids`, those whose neighbour rows the cache lacks (or holds stale), each once.
fn missing_neighbours(c: &Cache, ids: &[String], now: i64) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    for id in ids {
        let cached = c
            .neighbours
            .get(id)
            .is_some_and(|(s, _)| c.fresh(Part::Neighbours, *s, now));
        if !cached && !missing.contains(id) {
            missing.push(id.clone());
        }
    }
    missing
}

/// Serves the block and answers with it.
fn respond(
    shop: &Shop,
    q: Query,
    placement: &Placement,
    visitor: &Visitor,
    now: i64,
) -> Result<Response> {
    let context = Context {
        product: q.product.as_deref().and_then(|p| shop.number(p)),
        cart: q.cart.iter().filter_map(|p| shop.number(p)).collect(),
        category: q.category.as_deref().and_then(|c| shop.category_number(c)),
    };
    let block = serve_block(
        shop,
        &q.placement,
        placement,
        q.visitor.as_deref(),
        visitor,
        &context,
        q.limit,
        now,
    );
    let items = block
        .items
        .iter()
        .map(|i| {
            let p = shop.product(i.product);
            RecommendedItem {
                id: p.id.clone(),
                title: p.title.clone(),
                price: p.price,
                old_price: p.old_price,
                currency: p.currency.clone(),
                image: p.image.clone(),
                url: p.url.clone(),
                reason: i.reason.clone(),
                recommender: i.recommender.into(),
            }
        })
        .collect();
    let answer = RecommendationBlock {
        recomm_id: crate::ids::random("r-"),
        placement: q.placement,
        recommender: block.recommender.into(),
        variant: block.variant,
        items,
    };
    reply::json(200, &answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, visitor: &str, properties: &str) -> ValidEvent {
        ValidEvent {
            message_id: format!("m-{visitor}-{name}"),
            kind: "track",
            name: Some(name.to_string()),
            anonymous_id: Some(visitor.to_string()),
            user_id: None,
            timestamp_ms: None,
            sent_at_ms: None,
            properties: properties.to_string(),
            traits: "{}".into(),
            context: "{}".into(),
            raw: "{}".into(),
        }
    }

    fn counts() -> Vec<(String, InteractionKind, u32)> {
        CACHE.with(|c| {
            let c = c.borrow();
            let mut rows: Vec<_> = c
                .interactions
                .as_ref()
                .map(|i| {
                    i.rows
                        .iter()
                        .map(|r| (r.product_id.clone(), r.kind, r.visitors))
                        .collect()
                })
                .unwrap_or_default();
            rows.sort_by(|a, b| (&a.0, a.1 as u8).cmp(&(&b.0, b.1 as u8)));
            rows
        })
    }

    #[test]
    fn stored_events_count_once_per_visitor_product_kind_and_day() {
        let day = 20_000 * DAY_MS;
        let order = r#"{"products":[{"product_id":"A"},{"product_id":7}]}"#;
        let events = [
            event(ecommerce::ORDER_COMPLETED, "ann", order),
            event(ecommerce::ORDER_COMPLETED, "ann", order),
            event(
                ecommerce::ORDER_COMPLETED,
                "bob",
                r#"{"products":[{"product_id":"A"}]}"#,
            ),
            event(ecommerce::PRODUCT_VIEWED, "ann", r#"{"product_id":"A"}"#),
            event("Bench", "ann", r#"{"product_id":"A"}"#),
        ];
        // Nothing cached yet: nothing to count into (the next read sees the stored events).
        record("s", day, events.iter());
        assert!(counts().is_empty());
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            let c = c.of("s");
            let stamp = c.stamp(Part::Interactions, 0);
            c.interactions = Some(Interactions {
                stamp,
                // Read from D1: five buyers of A that day.
                rows: vec![DailyInteraction {
                    product_id: "A".into(),
                    kind: InteractionKind::Purchase,
                    day: 20_000,
                    visitors: 5,
                }],
                row_of: HashMap::new(),
                added: HashSet::new(),
            });
        });
        record("other-site", day, events.iter());
        assert_eq!(counts(), [("A".to_string(), InteractionKind::Purchase, 5)]);
        record("s", day, events.iter());
        let purchase = InteractionKind::Purchase;
        assert_eq!(
            counts(),
            [
                ("7".to_string(), purchase, 1),
                ("A".to_string(), InteractionKind::View, 1),
                ("A".to_string(), purchase, 7),
            ]
        );
        // The next day, the same buyer counts again, in rows of that day.
        record("s", day + DAY_MS, events[..1].iter());
        assert_eq!(counts().len(), 5);
    }

    #[test]
    fn history_reads_the_latest_views_and_baskets() {
        let row = |event: &str, properties: &str| EventRow {
            event: event.to_string(),
            event_time_ms: 0.0,
            properties: Some(properties.to_string()),
        };
        let mut events: Vec<EventRow> = (0..25)
            .map(|i| {
                row(
                    ecommerce::PRODUCT_VIEWED,
                    &format!(r#"{{"product_id":{i}}}"#),
                )
            })
            .collect();
        events.insert(
            1,
            row(
                ecommerce::CART_UPDATED,
                r#"{"products":[{"product_id":"c"}]}"#,
            ),
        );
        events.insert(
            2,
            row("Recommendation Block Viewed", r#"{"product_ids":["x"]}"#),
        );
        let ids = history_products(&events);
        assert_eq!(ids.len(), HISTORY_VIEWS + 1);
        assert_eq!(ids[..3], ["0", "c", "1"]);
        assert_eq!(ids.last().map(String::as_str), Some("19"));
    }
}
