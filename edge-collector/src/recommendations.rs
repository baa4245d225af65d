//! `GET /v1/recommendations?placement=home&limit=8`: a block computed by the engine from the
//! catalogue and stored events.

use engine::catalogue::Product;
use engine::recommend::{bestsellers, InteractionCount};
use protocol::recommendation::{self as reco, RecommendationBlock, RecommendedItem};
use serde::Deserialize;
use worker::{wasm_bindgen::JsValue, Date, Env, Request, Response, Result};

use crate::reply;

/// How far back popularity looks.
const WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;

const LOAD_CATALOGUE: &str = "SELECT id, title, price, old_price, currency, category, available, \
    image, url, brand FROM products WHERE site_id = ?1 AND available = 1 ORDER BY feed_position";

/// Distinct visitors per product and kind of interaction, leaving out events flagged as bots. Product IDs may be sent as numbers,
/// hence the casts.
const LOAD_INTERACTIONS: &str = "SELECT product_id, kind, COUNT(DISTINCT visitor) AS count FROM ( \
    SELECT CAST(json_extract(raw, '$.properties.product_id') AS TEXT) AS product_id, 'view' AS kind, \
           COALESCE(user_id, anonymous_id) AS visitor \
      FROM events WHERE site_id = ?1 AND event = 'Product Viewed' AND received_at_ms > ?2 AND bot = 0 \
    UNION ALL \
    SELECT CAST(json_extract(line.value, '$.product_id') AS TEXT), \
           CASE e.event WHEN 'Order Completed' THEN 'purchase' ELSE 'cart' END, \
           COALESCE(e.user_id, e.anonymous_id) \
      FROM events e, json_each(e.raw, '$.properties.products') line \
      WHERE e.site_id = ?1 AND e.event IN ('Cart Updated', 'Order Completed') AND e.received_at_ms > ?2 \
        AND e.bot = 0 \
  ) WHERE product_id IS NOT NULL GROUP BY product_id, kind";

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
            attributes: Default::default(),
        }
    }
}

/// Handles the recommendations request.
pub async fn serve(req: Request, env: &Env) -> Result<Response> {
    let url = req.url()?;
    let mut placement = String::from("home");
    let mut limit = reco::DEFAULT_LIMIT;
    let mut current_product = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            reco::PLACEMENT => placement = value.chars().take(64).collect(),
            reco::PRODUCT => current_product = Some(value.into_owned()),
            reco::LIMIT => match value.parse::<usize>() {
                Ok(n) if (1..=reco::MAX_LIMIT).contains(&n) => limit = n,
                _ => {
                    let msg = format!("`limit` must be a number from 1 to {}", reco::MAX_LIMIT);
                    return reply::error(400, "invalid_limit", msg);
                }
            },
            _ => {}
        }
    }
    let site = env.var("SITE_ID")?.to_string();
    let db = env.d1("DB")?;
    let since = Date::now().as_millis() as i64 - WINDOW_MS;
    let site_param = JsValue::from(site.as_str());
    let catalogue: Vec<Product> = db
        .prepare(LOAD_CATALOGUE)
        .bind(std::slice::from_ref(&site_param))?
        .all()
        .await?
        .results::<ProductRow>()?
        .into_iter()
        .map(Product::from)
        .collect();
    let interactions: Vec<InteractionCount> = db
        .prepare(LOAD_INTERACTIONS)
        .bind(&[site_param, JsValue::from_f64(since as f64)])?
        .all()
        .await?
        .results()?;

    let exclude: Vec<&str> = current_product.iter().map(String::as_str).collect();
    let items = bestsellers(&catalogue, &interactions, &exclude, limit)
        .into_iter()
        .map(|r| RecommendedItem {
            id: r.product.id.clone(),
            title: r.product.title.clone(),
            price: r.product.price,
            old_price: r.product.old_price,
            currency: r.product.currency.clone(),
            image: r.product.image.clone(),
            url: r.product.url.clone(),
            reason: r.reason,
        })
        .collect();
    let block = RecommendationBlock {
        recomm_id: crate::ids::random("r-"),
        placement,
        recommender: "bestsellers".into(),
        items,
    };
    reply::json(200, &block)
}
