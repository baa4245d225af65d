//! Recommendation blocks. A shop marks a spot with
//! `<div data-orbita-placement="home" style="min-height: 340px"></div>`; [`render`] asks
//! `GET /v1/recommendations` for each, with what the page is about (the product, the cart, the
//! category: [`request`]), and [`draw`] turns the answer into cards: text always as text,
//! links and images only http(s), prices in the visitor's locale, the event properties of the
//! block (`Recommendation Block Viewed` with the products shown, `Product Clicked` with the
//! block's `recommId`). `js/browser.js` fetches and draws into a shadow root (a scroll-snap row,
//! a carousel on narrow screens, with previous/next buttons) and reports the impression once
//! half of the block has been visible.

use js_sys::{Array, Function, Object, Reflect};
use page_values::{get, text};
use protocol::ecommerce;
use protocol::experiment::{BLOCK_VIEWED, PLACEMENT, PRODUCT_CLICKED, RECOMM_ID, VARIANT};
use protocol::recommendation::{self as reco, fields};
use wasm_bindgen::prelude::*;
use web_sys::Element;

#[wasm_bindgen(module = "/js/browser.js")]
extern "C" {
    /// The page's placeholders (`[data-orbita-placement]`), in document order.
    fn placeholders() -> Array;
    /// The page's JSON-LD values (`<script type="application/ld+json">`, parsed; unparsable
    /// ones left out).
    #[wasm_bindgen(js_name = jsonLd)]
    fn json_ld() -> Array;
    /// GETs `url` and hands the JSON answer to [`crate::answer`] (`block`, with `ctx`) through
    /// the glue at `glue`; a failure is a console warning.
    #[wasm_bindgen(js_name = fetchBlock)]
    fn fetch_block(url: &str, glue: &JsValue, ctx: &Array);
    /// `url` resolved against the page's address: `[protocol, href]`, or `[]` if it is none.
    fn resolve(url: &str) -> Array;
    /// `amount` in `currency`, formatted by `Intl.NumberFormat` in the visitor's language;
    /// `undefined` if Intl refuses the currency.
    fn money(amount: f64, currency: &str) -> Option<String>;
    /// Draws the block into `host`'s shadow root, replacing what was there: `cards` are
    /// `[name, href, src, price, old price, click]` (absent values `undefined`), `viewed` and
    /// each `click` an event `[name, properties]` sent with `orbita('track', ...)` (when
    /// `orbita` is a function): the impression once half of the block is visible, the click on
    /// the card.
    #[wasm_bindgen(js_name = drawBlock)]
    fn draw_block(host: &Element, recomm_id: &str, cards: &Array, viewed: &Array, orbita: &JsValue);
}

/// Fills every recommendation placeholder on the page. `config` is the tracker's settings
/// (`endpoint`); `orbita` is the tracker's global function, used to report impressions and
/// clicks.
#[wasm_bindgen]
pub fn render(config: JsValue, orbita: JsValue) {
    let endpoint = text(&get(&config, "endpoint")).unwrap_or_default();
    let glue = crate::glue();
    let mut page_product = None;
    for host in placeholders().iter() {
        let Ok(host) = host.dyn_into::<Element>() else {
            continue;
        };
        let attribute = |name: &str| host.get_attribute(name);
        let product = attribute("data-orbita-product").or_else(|| {
            page_product
                .get_or_insert_with(|| json_ld().iter().find_map(|v| json_ld_product_id(&v)))
                .clone()
        });
        let url = request(
            &endpoint,
            &attribute("data-orbita-placement").unwrap_or_default(),
            attribute("data-orbita-limit").as_deref(),
            product.as_deref(),
            attribute("data-orbita-cart").as_deref(),
            attribute("data-orbita-category").as_deref(),
        );
        fetch_block(&url, &glue, &Array::of2(&host, &orbita));
    }
}

fn json_ld_product_id(value: &JsValue) -> Option<String> {
    page_values::json_ld_product(value).and_then(|p| page_values::json_ld_product_id(&p))
}

/// The `GET /v1/recommendations` address of one placeholder: its placement and `limit` (1-24,
/// else the default), and what the page is about, as `protocol::recommendation` names it:
/// `product` (the placeholder's `data-orbita-product`, else the product of the page's
/// schema.org JSON-LD, as the tracker reads it), `cart` (`data-orbita-cart`: product IDs
/// separated by commas, at most [`reco::MAX_CART`]) and `category` (`data-orbita-category`).
pub fn request(
    endpoint: &str,
    placement: &str,
    limit: Option<&str>,
    product: Option<&str>,
    cart: Option<&str>,
    category: Option<&str>,
) -> String {
    let limit = limit
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=reco::MAX_LIMIT).contains(n))
        .unwrap_or(reco::DEFAULT_LIMIT);
    let cart = cart.map(|c| {
        c.split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .take(reco::MAX_CART)
            .collect::<Vec<_>>()
            .join(",")
    });
    let mut url = [
        endpoint.trim_end_matches('/'),
        "/v1/recommendations?",
        reco::PLACEMENT,
        "=",
        &encode(placement),
        "&",
        reco::LIMIT,
        "=",
        &decimal(limit as i32),
    ]
    .concat();
    for (key, value) in [
        (reco::PRODUCT, product.map(str::trim)),
        (reco::CART, cart.as_deref()),
        (reco::CATEGORY, category.map(str::trim)),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            url.extend(["&", key, "=", &encode(value)]);
        }
    }
    url
}

fn encode(value: &str) -> String {
    js_sys::encode_uri_component(value).into()
}

/// A block arrived for `ctx` (`[host, orbita]`, as [`render`] gave it): draws it.
pub(crate) fn arrived(block: &JsValue, ctx: &JsValue) {
    let ctx = Array::from(ctx);
    let Ok(host) = ctx.get(0).dyn_into::<Element>() else {
        return;
    };
    let placement = host
        .get_attribute("data-orbita-placement")
        .unwrap_or_default();
    let orbita = ctx.get(1).dyn_into::<Function>().ok();
    if let Err(e) = draw(&host, block, &placement, orbita) {
        web_sys::console::warn_2(&"orbita: recommendation block not shown:".into(), &e);
    }
}

fn number(value: &JsValue, key: &str) -> Option<f64> {
    get(value, key).as_f64()
}

/// `url` resolved against the page if it is http(s); anything else (`javascript:`, `data:`)
/// is refused, since feeds are not trusted input.
pub fn safe_url(url: &str) -> Option<String> {
    let resolved = resolve(url);
    let protocol = resolved.get(0).as_string()?;
    matches!(protocol.as_str(), "http:" | "https:")
        .then(|| resolved.get(1).as_string())
        .flatten()
}

/// A price in the visitor's locale, e.g. `€49.00`; plain `49.00 XYZ` for a currency code that
/// is not well-formed (`Intl.NumberFormat` would throw on it, and feeds are not trusted input).
pub fn format_price(amount: f64, currency: &str) -> String {
    let well_formed = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_alphabetic());
    well_formed
        .then(|| money(amount, currency))
        .flatten()
        .unwrap_or_else(|| plain_price(amount, currency))
}

/// `49.00 XYZ`, formatted by JavaScript (Rust's float formatting would add kilobytes of wasm).
fn plain_price(amount: f64, currency: &str) -> String {
    let fixed = js_sys::Number::from(amount)
        .to_fixed(2)
        .map(String::from)
        .unwrap_or_default();
    [fixed.as_str(), " ", currency].concat()
}

/// An integer as decimal text, via JavaScript (keeps `core::fmt` out of the wasm).
pub fn decimal(n: i32) -> String {
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// Draws `block` (the `/v1/recommendations` answer) into `host`'s shadow root, replacing what
/// was there. `orbita` (the tracker's global function, or `undefined`) gets the impression and
/// the clicks.
///
/// The events carry `recomm_id`, `placement` and, when the placement is under an A/B test,
/// `variant` (the answer's, else the placeholder's `data-orbita-variant`); the impression also
/// the products shown, in order ([`reco::SHOWN_PRODUCT_IDS`]), and each click its `product_id`.
pub fn draw(
    host: &Element,
    block: &JsValue,
    placement: &str,
    orbita: Option<Function>,
) -> Result<(), JsValue> {
    let recomm_id = text(&get(block, fields::RECOMM_ID)).unwrap_or_default();
    let variant =
        text(&get(block, fields::VARIANT)).or_else(|| host.get_attribute("data-orbita-variant"));
    let base = Object::new();
    let set = |props: &Object, key: &str, value: &JsValue| {
        let _ = Reflect::set(props, &key.into(), value);
    };
    set(&base, RECOMM_ID, &recomm_id.as_str().into());
    set(&base, PLACEMENT, &placement.into());
    if let Some(variant) = variant {
        set(&base, VARIANT, &variant.into());
    }
    let event = |name: &str, extra: &str, value: &JsValue| {
        let props = Object::assign(&Object::new(), &base);
        set(&props, extra, value);
        Array::of2(&name.into(), &props)
    };
    let (cards, shown) = (Array::new(), Array::new());
    let items = get(block, fields::ITEMS);
    if !Array::is_array(&items) {
        return Err("the answer has no items".into());
    }
    for item in Array::from(&items).iter() {
        let id = text(&get(&item, fields::ID)).unwrap_or_default();
        let url = |key: &str| {
            get(&item, key)
                .as_string()
                .and_then(|u| safe_url(&u))
                .map_or(JsValue::UNDEFINED, JsValue::from)
        };
        let currency = get(&item, fields::CURRENCY).as_string().unwrap_or_default();
        let price = |key: &str| {
            number(&item, key).map_or(JsValue::UNDEFINED, |p| format_price(p, &currency).into())
        };
        let card = Array::of5(
            &get(&item, fields::TITLE)
                .as_string()
                .unwrap_or_default()
                .into(),
            &url(fields::URL),
            &url(fields::IMAGE),
            &price(fields::PRICE),
            &price(fields::OLD_PRICE),
        );
        card.push(&event(
            PRODUCT_CLICKED,
            ecommerce::PRODUCT_ID,
            &id.as_str().into(),
        ));
        cards.push(&card);
        shown.push(&id.into());
    }
    let viewed = event(BLOCK_VIEWED, reco::SHOWN_PRODUCT_IDS, &shown);
    let orbita = orbita.map_or(JsValue::UNDEFINED, JsValue::from);
    draw_block(host, &recomm_id, &cards, &viewed, &orbita);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn block(title: &str, url: &str, image: &str) -> JsValue {
        let text = format!(
            r#"{{"recommId":"r-1","items":[{{"id":"A","title":{},"price":49,"oldPrice":59,"currency":"EUR","image":{},"url":{},"reason":"x"}}]}}"#,
            JSON_string(title),
            JSON_string(image),
            JSON_string(url)
        );
        js_sys::JSON::parse(&text).unwrap()
    }

    #[allow(non_snake_case)]
    fn JSON_string(s: &str) -> String {
        js_sys::JSON::stringify(&s.into())
            .unwrap()
            .as_string()
            .unwrap()
    }

    fn host() -> Element {
        let doc = web_sys::window().unwrap().document().unwrap();
        let host = doc.create_element("div").unwrap();
        doc.body().unwrap().append_child(&host).unwrap();
        host
    }

    #[wasm_bindgen_test]
    fn feed_text_is_rendered_as_text_never_as_html() {
        let host = host();
        let hostile = "<img src=x onerror=\"window.__pwned=1\">";
        draw(&host, &block(hostile, "/p/A", "/img/a.svg"), "home", None).unwrap();
        let root = host.shadow_root().unwrap();
        assert_eq!(
            root.query_selector_all("img").unwrap().length(),
            1,
            "only the product image"
        );
        let name = root.query_selector(".name").unwrap().unwrap();
        assert_eq!(name.text_content().as_deref(), Some(hostile));
        assert_eq!(name.child_element_count(), 0);
        assert_eq!(
            host.get_attribute("data-orbita-recomm-id").as_deref(),
            Some("r-1")
        );
    }

    #[wasm_bindgen_test]
    fn only_http_links_and_images() {
        let host = host();
        draw(
            &host,
            &block("Lamp", "javascript:alert(1)", "data:image/svg+xml,<svg/>"),
            "home",
            None,
        )
        .unwrap();
        let root = host.shadow_root().unwrap();
        let link = root.query_selector("a").unwrap().unwrap();
        assert_eq!(link.get_attribute("href"), None);
        assert_eq!(
            root.query_selector("img")
                .unwrap()
                .unwrap()
                .get_attribute("src"),
            None
        );
        assert!(safe_url("/p/A").unwrap().ends_with("/p/A"));
        assert!(safe_url("https://shop.example/p/A").is_some());
    }

    #[wasm_bindgen_test]
    fn prices_use_intl_and_survive_bad_currencies() {
        assert!(format_price(49.0, "EUR").contains("49.00"));
        assert!(format_price(49.0, "EUR").contains('€'));
        assert_eq!(format_price(49.0, "not a currency"), "49.00 not a currency");
    }

    #[wasm_bindgen_test]
    fn redrawing_replaces_the_block() {
        let host = host();
        draw(&host, &block("One", "/p/1", "/i/1.svg"), "home", None).unwrap();
        draw(&host, &block("Two", "/p/2", "/i/2.svg"), "home", None).unwrap();
        let root = host.shadow_root().unwrap();
        assert_eq!(root.query_selector_all("li").unwrap().length(), 1);
        assert_eq!(
            root.query_selector(".name")
                .unwrap()
                .unwrap()
                .text_content()
                .as_deref(),
            Some("Two")
        );
    }

    #[wasm_bindgen_test]
    fn the_request_names_what_the_page_is_about() {
        assert_eq!(
            request(
                "https://c.example/",
                "product",
                Some("4"),
                Some(" A 1 "),
                None,
                None
            ),
            "https://c.example/v1/recommendations?placement=product&limit=4&product=A%201"
        );
        assert_eq!(
            request("", "cart", None, None, Some(" a, b,,c "), Some("")),
            "/v1/recommendations?placement=cart&limit=8&cart=a%2Cb%2Cc"
        );
        assert_eq!(
            request(
                "",
                "category",
                Some("99"),
                Some(""),
                Some(" , "),
                Some("Lamps & Light")
            ),
            "/v1/recommendations?placement=category&limit=8&category=Lamps%20%26%20Light"
        );
        // The collector refuses a longer cart (and the block with it).
        let cart: Vec<String> = (0..60).map(decimal).collect();
        let url = request("", "cart", None, None, Some(&cart.join(",")), None);
        let sent = url.split("&cart=").nth(1).unwrap();
        assert_eq!(sent.split("%2C").count(), reco::MAX_CART);
    }

    #[wasm_bindgen_test]
    fn a_click_reports_the_card_with_the_blocks_properties() {
        let host = host();
        let orbita = Function::new_with_args(
            "c,e,p",
            "(window.__tracked = window.__tracked || []).push([c, e, p])",
        );
        let answer = js_sys::JSON::parse(
            r#"{"recommId":"r-9","variant":"B","items":[
                {"id":"A","title":"One","url":"javascript:1"},{"id":7,"title":"Two","url":"javascript:2"}]}"#,
        )
        .unwrap();
        draw(&host, &answer, "product", Some(orbita)).unwrap();
        let root = host.shadow_root().unwrap();
        let second = root.query_selector("li:nth-child(2) a").unwrap().unwrap();
        second.dyn_into::<web_sys::HtmlElement>().unwrap().click();
        let tracked = Reflect::get(&js_sys::global(), &"__tracked".into()).unwrap();
        let call = Array::from(&Array::from(&tracked).get(0));
        assert_eq!(call.get(0).as_string().as_deref(), Some("track"));
        assert_eq!(call.get(1).as_string().as_deref(), Some(PRODUCT_CLICKED));
        let props = js_sys::JSON::stringify(&call.get(2))
            .unwrap()
            .as_string()
            .unwrap();
        assert_eq!(
            props,
            r#"{"recomm_id":"r-9","placement":"product","variant":"B","product_id":"7"}"#
        );
    }
}
