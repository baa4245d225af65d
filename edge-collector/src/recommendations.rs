//! `GET /v1/recommendations?placement=home&product=..&cart=a,b&category=..&limit=8`: a block
//! served by the engine (`engine::recommend_placement::serve`) for the placement's
//! configuration (`placements` table, else the built-in default), from the catalogue, the
//! popularity of the last 30 days, the item-to-item tables the cron refresh stores
//! (`neighbours`), and the visitor's own latest events read at request time, so an event
//! changes the visitor's next block. The visitor is the `anonymousId` parameter, else the
//! visitor cookie: guests get recommendations from their own session's events.

use engine::catalogue::Product;
use engine::recommend_placement::{default_placement, serve as serve_block, Placement};
use engine::recommenders::{Context, DailyInteraction, Relation, Shop, UpdateProperties, Visitor};
use protocol::ids::{cookie_value, VISITOR_COOKIE, VISITOR_COOKIE_SERVER_COPY};
use protocol::recommendation::{self as reco, RecommendationBlock, RecommendedItem};
use serde::Deserialize;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use worker::{wasm_bindgen::JsValue, Date, Env, Request, Response, Result};

use crate::reply;

/// How far back popularity looks.
const WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;
/// Latest events of the visitor read per request.
const VISITOR_EVENTS: u32 = 300;
/// Most products named in `cart` (the widgets send no more).
const MAX_CART: usize = reco::MAX_CART;

/// The available catalogue (cached per isolate with the interaction counts, see [`invalidate`]).
const LOAD_CATALOGUE: &str = "SELECT id, title, price, old_price, currency, category, available, \
    image, url, brand, attributes, COALESCE(added_at_ms, updated_at_ms) AS added_at_ms \
    FROM products WHERE site_id = ?1 AND available = 1 ORDER BY feed_position";

/// The sold-out products a request needs: the page's own product (for its neighbours and
/// category), or all of them for a placement whose `filters.inStock` is off.
const LOAD_SOLD_OUT: &str = "SELECT id, title, price, old_price, currency, category, available, \
    image, url, brand, attributes, COALESCE(added_at_ms, updated_at_ms) AS added_at_ms \
    FROM products WHERE site_id = ?1 AND id = ?2 AND available = 0 \
  UNION ALL \
  SELECT id, title, price, old_price, currency, category, available, \
    image, url, brand, attributes, COALESCE(added_at_ms, updated_at_ms) AS added_at_ms \
    FROM products WHERE site_id = ?1 AND available = 0 AND id != ?2 \
      AND NOT COALESCE((SELECT json_extract(config, '$.filters.inStock') FROM placements \
                        WHERE site_id = ?1 AND name = ?3), 1)";

/// Distinct visitors per product, kind of interaction and day, leaving out events flagged as
/// bots. Product IDs may be sent as numbers, hence the casts.
const LOAD_INTERACTIONS: &str = "SELECT product_id, kind, day, COUNT(DISTINCT visitor) AS visitors FROM ( \
    SELECT CAST(json_extract(raw, '$.properties.product_id') AS TEXT) AS product_id, 'view' AS kind, \
           COALESCE(user_id, anonymous_id) AS visitor, received_at_ms / 86400000 AS day \
      FROM events WHERE site_id = ?1 AND event = 'Product Viewed' AND received_at_ms > ?2 AND bot = 0 \
    UNION ALL \
    SELECT CAST(json_extract(line.value, '$.product_id') AS TEXT), \
           CASE e.event WHEN 'Order Completed' THEN 'purchase' ELSE 'cart' END, \
           COALESCE(e.user_id, e.anonymous_id), e.received_at_ms / 86400000 \
      FROM events e, json_each(e.raw, '$.properties.products') line \
      WHERE e.site_id = ?1 AND e.event IN ('Cart Updated', 'Order Completed') AND e.received_at_ms > ?2 \
        AND e.bot = 0 \
  ) WHERE product_id IS NOT NULL GROUP BY product_id, kind, day";

const LOAD_PLACEMENT: &str = "SELECT config FROM placements WHERE site_id = ?1 AND name = ?2";

/// The visitor's latest events that recommenders read (newest first).
const LOAD_VISITOR_EVENTS: &str = "SELECT event, event_time_ms, \
    json_extract(raw, '$.properties') AS properties FROM events \
    WHERE site_id = ?1 AND anonymous_id = ?2 AND type = 'track' \
      AND event IN ('Product Viewed', 'Cart Updated', 'Order Completed', 'Recommendation Block Viewed') \
    ORDER BY received_at_ms DESC LIMIT ?3";

/// The neighbour rows of the page's products (`?2`, a JSON list) and of the visitor's latest
/// viewed, carted and bought products, read in the same round trip as the visitor's events.
const LOAD_NEIGHBOURS: &str = "SELECT relation, product_id, neighbours FROM product_neighbours \
    WHERE site_id = ?1 AND product_id IN ( \
      SELECT value FROM json_each(?2) \
      UNION SELECT CAST(json_extract(raw, '$.properties.product_id') AS TEXT) FROM ( \
        SELECT raw FROM events WHERE site_id = ?1 AND anonymous_id = ?3 AND type = 'track' \
          AND event = 'Product Viewed' ORDER BY received_at_ms DESC LIMIT 20) \
      UNION SELECT CAST(json_extract(line.value, '$.product_id') AS TEXT) FROM ( \
        SELECT raw FROM events WHERE site_id = ?1 AND anonymous_id = ?3 AND type = 'track' \
          AND event IN ('Cart Updated', 'Order Completed') ORDER BY received_at_ms DESC LIMIT 10) e, \
        json_each(e.raw, '$.properties.products') line)";

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

/// What every request of the site reads the same way: the available catalogue and the
/// interaction counts, kept in the isolate's memory for [`CACHE_MS`] and dropped at once when
/// this isolate handles a write ([`invalidate`], called by the router for every request that is
/// not a GET). Other isolates see a new order or feed after at most [`CACHE_MS`]; the visitor's
/// own events are read on every request, never cached.
struct Base {
    site: String,
    generation: u64,
    loaded_ms: i64,
    products: Vec<Product>,
    added_at: Vec<i64>,
    interactions: Vec<DailyInteraction>,
}

/// How long [`Base`] is reused.
const CACHE_MS: i64 = 30_000;

thread_local! {
    static BASE: RefCell<Option<Rc<Base>>> = const { RefCell::new(None) };
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Drops the cached catalogue and interaction counts (a write may have changed them).
pub fn invalidate() {
    GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
}

fn cached_base(site: &str, now: i64) -> Option<Rc<Base>> {
    let generation = GENERATION.with(Cell::get);
    BASE.with(|b| {
        b.borrow()
            .as_ref()
            .filter(|b| {
                b.site == site && b.generation == generation && now - b.loaded_ms < CACHE_MS
            })
            .cloned()
    })
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

/// Handles the recommendations request.
pub async fn serve(req: Request, env: &Env) -> Result<Response> {
    let q = match query(&req)? {
        Ok(q) => q,
        Err(refusal) => return Ok(refusal),
    };
    let site = env.var("SITE_ID")?.to_string();
    let db = env.d1("DB")?;
    let now = Date::now().as_millis() as i64;
    let site_param = JsValue::from(site.as_str());
    // One round trip: the placement, the visitor's events, the neighbour rows of the page and of
    // the visitor's history, the sold-out products needed, and (when not cached) the catalogue
    // and interaction counts.
    let visitor_param = JsValue::from(q.visitor.as_deref().unwrap_or(""));
    let product_param = JsValue::from(q.product.as_deref().unwrap_or(""));
    let mut page: Vec<&str> = q.product.iter().map(String::as_str).collect();
    page.extend(q.cart.iter().map(String::as_str));
    let page = serde_json::to_string(&page).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let cached = cached_base(&site, now);
    let generation = GENERATION.with(Cell::get);
    let mut statements = vec![
        db.prepare(LOAD_PLACEMENT)
            .bind(&[site_param.clone(), JsValue::from(q.placement.as_str())])?,
        db.prepare(LOAD_VISITOR_EVENTS).bind(&[
            site_param.clone(),
            visitor_param.clone(),
            JsValue::from(VISITOR_EVENTS),
        ])?,
        db.prepare(LOAD_NEIGHBOURS).bind(&[
            site_param.clone(),
            JsValue::from(page),
            visitor_param,
        ])?,
        db.prepare(LOAD_SOLD_OUT).bind(&[
            site_param.clone(),
            product_param,
            JsValue::from(q.placement.as_str()),
        ])?,
    ];
    if cached.is_none() {
        statements.push(
            db.prepare(LOAD_CATALOGUE)
                .bind(std::slice::from_ref(&site_param))?,
        );
        statements.push(db.prepare(LOAD_INTERACTIONS).bind(&[
            site_param.clone(),
            JsValue::from_f64((now - WINDOW_MS) as f64),
        ])?);
    }
    let mut results = db.batch(statements).await?.into_iter();
    let mut next = || {
        results
            .next()
            .ok_or_else(|| worker::Error::RustError("D1 answered a short batch".into()))
    };
    let (config, events, neighbours, sold_out) = (next()?, next()?, next()?, next()?);
    let base = match cached {
        Some(base) => base,
        None => {
            let rows: Vec<ProductRow> = next()?.results()?;
            let interactions: Vec<DailyInteraction> = next()?
                .results::<InteractionRow>()?
                .into_iter()
                .map(|r| DailyInteraction {
                    product_id: r.product_id,
                    kind: r.kind,
                    day: r.day as i64,
                    visitors: r.visitors as u32,
                })
                .collect();
            let base = Rc::new(Base {
                site: site.clone(),
                generation,
                loaded_ms: now,
                added_at: rows
                    .iter()
                    .map(|r| r.added_at_ms.unwrap_or(0.0) as i64)
                    .collect(),
                products: rows.into_iter().map(Product::from).collect(),
                interactions,
            });
            BASE.with(|b| *b.borrow_mut() = Some(base.clone()));
            base
        }
    };
    let mut products = base.products.clone();
    let mut added_at = base.added_at.clone();
    for r in sold_out.results::<ProductRow>()? {
        added_at.push(r.added_at_ms.unwrap_or(0.0) as i64);
        products.push(Product::from(r));
    }
    let placement = placement_from(
        config
            .results::<ConfigRow>()?
            .into_iter()
            .next()
            .map(|r| r.config),
        &q.placement,
    );
    let mut shop = Shop::new(products, &added_at, &base.interactions, now);
    let mut visitor = Visitor::default();
    if q.visitor.is_some() {
        let mut events: Vec<EventRow> = events.results()?;
        events.sort_by(|a, b| a.event_time_ms.total_cmp(&b.event_time_ms));
        for e in &events {
            // Only what profiles read is parsed, borrowed from the text.
            let properties: UpdateProperties = e
                .properties
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            visitor.observe(&shop, &e.event, &properties, e.event_time_ms as i64);
        }
    }
    for r in neighbours.results::<NeighbourRow>()? {
        let (Some(relation), Ok(row)) = (
            Relation::parse(&r.relation),
            serde_json::from_str::<Vec<(String, f32)>>(&r.neighbours),
        ) else {
            continue;
        };
        shop.set_neighbours(relation, &r.product_id, &row);
    }
    let context = Context {
        product: q.product.as_deref().and_then(|p| shop.number(p)),
        cart: q.cart.iter().filter_map(|p| shop.number(p)).collect(),
        category: q.category.as_deref().and_then(|c| shop.category_number(c)),
    };
    let block = serve_block(
        &shop,
        &q.placement,
        &placement,
        q.visitor.as_deref(),
        &visitor,
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
