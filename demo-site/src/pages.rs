//! The shop's pages as HTML strings.

use engine::catalogue::Product;

use crate::{html, json_string, Category, DEMO_WRITE_KEY};

/// Formats a euro price the way the shop shows it.
fn euros(amount: f64) -> String {
    format!("€{amount:.2}")
}

fn layout(
    cats: &[Category<'_>],
    title: &str,
    active: Option<&str>,
    body: &str,
    head: &str,
) -> String {
    let nav: String = cats
        .iter()
        .map(|c| {
            let current = if active == Some(c.slug.as_str()) {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<a href=\"/c/{}/\"{current}>{}</a>", c.slug, html(c.name))
        })
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Lumen &amp; Loom</title>
<link rel="stylesheet" href="/assets/shop.css">
<link rel="icon" href="/img/favicon.svg" type="image/svg+xml">
<!-- Orbita: the one-line queue, then the tracker, loaded without blocking the page. -->
<script>window.orbita=window.orbita||function(){{(orbita.q=orbita.q||[]).push(arguments)}};</script>
<script async src="/orbita/orbita.js" data-write-key="{DEMO_WRITE_KEY}"></script>
<script src="/assets/shop.js" defer></script>
{head}</head>
<body>
<header class="site"><div class="bar">
<a class="logo" href="/">Lumen <span>&amp;</span> Loom</a>
<nav class="cats" aria-label="Categories">{nav}</nav>
<a class="cart-link" href="/cart">Cart <span class="count">0</span></a>
</div></header>
<main>
{body}
</main>
<footer><div class="bar">Lumen &amp; Loom is Orbita's demo shop. Prices are made up; nothing ships.</div></footer>
</body>
</html>
"#,
        title = html(title)
    )
}

fn price_html(p: &Product) -> String {
    match p.old_price {
        Some(old) => format!(
            "<span class=\"price\">{}<s>{}</s></span><span class=\"badge\">Sale</span>",
            euros(p.price),
            euros(old)
        ),
        None => format!("<span class=\"price\">{}</span>", euros(p.price)),
    }
}

fn card(p: &Product) -> String {
    format!(
        "<a class=\"card\" href=\"{url}\"><img src=\"{img}\" alt=\"\" width=\"200\" height=\"180\" loading=\"lazy\">\
         <span class=\"name\">{name}</span>{price}</a>",
        url = html(&p.url),
        img = html(&p.image),
        name = html(&p.title),
        price = price_html(p)
    )
}

/// What a page is about, told to its recommendation block.
enum About<'a> {
    Nothing,
    /// The product the page shows (left out of the block).
    Product(&'a str),
    /// The category the page lists (the block stays in it).
    Category(&'a str),
}

/// A recommendation placeholder.
fn reco_block(placement: &str, title: &str, about: About<'_>) -> String {
    let about = match about {
        About::Nothing => String::new(),
        About::Product(id) => format!(" data-orbita-product=\"{}\"", html(id)),
        About::Category(name) => format!(" data-orbita-category=\"{}\"", html(name)),
    };
    format!(
        "<div class=\"reco\" data-orbita-placement=\"{placement}\"{about} data-orbita-title=\"{}\" data-orbita-limit=\"8\"></div>",
        html(title)
    )
}

/// The home page: hero, categories, featured products and a bestsellers block.
pub fn home(cats: &[Category<'_>]) -> String {
    let tiles: String = cats
        .iter()
        .map(|c| format!("<a href=\"/c/{}/\">{}</a>", c.slug, html(c.name)))
        .collect();
    let featured: String = cats
        .iter()
        .filter_map(|c| c.products.first())
        .map(|p| card(p))
        .collect();
    let body = format!(
        r#"<section class="hero"><div><h1>Homeware for slow mornings and long evenings.</h1>
<p>Cast iron, linen, stoneware and warm light, chosen to last. Free returns within 30 days.</p>
<a class="button" href="/c/{first}/">Shop {first_name}</a></div>
<img src="/img/hero.svg" alt="" width="520" height="280"></section>
{reco}
<h2 class="section">Shop by category</h2>
<div class="tiles">{tiles}</div>
<h2 class="section">New this season</h2>
<div class="grid">{featured}</div>"#,
        first = cats[0].slug,
        first_name = html(cats[0].name),
        reco = reco_block("home", "Popular right now", About::Nothing),
    );
    layout(cats, "Home", None, &body, "")
}

/// A category page: every product of the category, then a block of the category's favourites.
pub fn category(cats: &[Category<'_>], c: &Category<'_>) -> String {
    let grid: String = c.products.iter().map(|p| card(p)).collect();
    let body = format!(
        "<div class=\"crumbs\"><a href=\"/\">Home</a> / {name}</div><h1>{name}</h1>\
         <div class=\"grid\">{grid}</div>\
         <h2 class=\"section\">Favourites in {name}</h2>{reco}\
         <script>orbita('categoryViewed', {{category: {json}}});</script>",
        name = html(c.name),
        json = json_string(c.name),
        reco = reco_block("category", "Visitors' picks", About::Category(c.name)),
    );
    layout(cats, c.name, Some(&c.slug), &body, "")
}

/// A product page, with schema.org JSON-LD (as shops publish for search engines), the
/// product-view call and a recommendation block.
pub fn product(cats: &[Category<'_>], p: &Product) -> String {
    let cat_slug = crate::slug(p.top_category());
    let availability = if p.available { "InStock" } else { "OutOfStock" };
    let json_ld = format!(
        "<script type=\"application/ld+json\">{{\"@context\":\"https://schema.org\",\"@type\":\"Product\",\
         \"sku\":{id},\"name\":{name},\"image\":{img},\"brand\":{{\"@type\":\"Brand\",\"name\":{brand}}},\
         \"offers\":{{\"@type\":\"Offer\",\"price\":\"{price:.2}\",\"priceCurrency\":{cur},\
         \"availability\":\"https://schema.org/{availability}\"}}}}</script>\n",
        id = json_string(&p.id),
        name = json_string(&p.title),
        img = json_string(&p.image),
        brand = json_string(p.brand.as_deref().unwrap_or("")),
        price = p.price,
        cur = json_string(&p.currency),
    );
    let item = format!(
        "{{\"id\":{},\"name\":{},\"price\":{},\"image\":{},\"url\":{}}}",
        json_string(&p.id),
        json_string(&p.title),
        p.price,
        json_string(&p.image),
        json_string(&p.url)
    );
    let button = if p.available {
        format!(
            "<button type=\"button\" data-add-to-cart=\"{}\">Add to cart</button>",
            html(&item)
        )
    } else {
        "<button type=\"button\" disabled>Sold out</button>".into()
    };
    let body = format!(
        r#"<div class="crumbs"><a href="/">Home</a> / <a href="/c/{cat_slug}/">{cat}</a> / {name}</div>
<section class="product"><img src="{img}" alt="{name}" width="520" height="520">
<div><h1>{name}</h1><p class="brand">by {brand}</p>{price}
<p class="stock">{stock}</p>{button}</div></section>
<h2 class="section">You may also like</h2>
{reco}
<!-- No product-view call needed: the tracker reads the schema.org Product JSON-LD above. -->"#,
        cat = html(p.top_category()),
        name = html(&p.title),
        img = html(&p.image),
        brand = html(p.brand.as_deref().unwrap_or("Lumen & Loom")),
        price = price_html(p),
        stock = if p.available {
            "In stock · ships in 2–3 days"
        } else {
            "Sold out · back soon"
        },
        reco = reco_block("product", "Popular right now", About::Product(&p.id)),
    );
    layout(cats, &p.title, Some(&cat_slug), &body, &json_ld)
}

/// The cart page, filled by the shop's script from localStorage (which also tells the block the
/// cart's products: `data-orbita-cart`).
pub fn cart(cats: &[Category<'_>]) -> String {
    let body = r#"<h1>Your cart</h1>
<p id="cart-empty">Your cart is empty. <a href="/">Keep browsing</a>.</p>
<table class="cart"><tbody id="cart-lines"></tbody></table>
<div class="totals"><span>Total <strong id="cart-total">€0.00</strong></span>
<button type="button" id="checkout" disabled>Place order</button></div>
<h2 class="section">Complete your home</h2>
<div class="reco" data-orbita-placement="cart" data-orbita-title="Often bought" data-orbita-limit="8"></div>"#;
    layout(cats, "Cart", None, body, "")
}

/// The thank-you page after an order; the shop's script reports the purchase.
pub fn thank_you(cats: &[Category<'_>]) -> String {
    let body = r#"<h1>Thank you!</h1>
<p>Your order <strong id="order-id">…</strong> of <strong id="order-total">…</strong> is confirmed. We'll email you when it ships.</p>
<p><a class="button" href="/">Continue shopping</a></p>"#;
    layout(cats, "Thank you", None, body, "")
}

/// The not-found page (served by the runtime for unknown paths).
pub fn not_found(cats: &[Category<'_>]) -> String {
    let body = r#"<h1>We couldn't find that page</h1>
<p>It may have moved. Here is what other visitors like:</p>
<div class="reco" data-orbita-placement="404" data-orbita-title="Popular right now" data-orbita-limit="8"></div>"#;
    layout(cats, "Not found", None, body, "")
}
