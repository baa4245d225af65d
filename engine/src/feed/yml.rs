//! YML (Yandex Market Language) feeds: `<yml_catalog><shop>` with `<currencies>`,
//! `<categories>` (a tree through `parentId`) and `<offers>`.

use std::collections::{BTreeMap, HashMap};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{availability, currency_code, parse_amount, FeedImport, FeedRowError};
use crate::catalogue::Product;

/// Deepest category path followed (guards against `parentId` cycles).
const MAX_CATEGORY_DEPTH: usize = 32;

/// What one `<offer>` said, before it is checked.
#[derive(Default)]
struct Offer {
    row: usize,
    id: String,
    available: String,
    name: String,
    type_prefix: String,
    vendor: String,
    model: String,
    url: String,
    price: String,
    old_price: String,
    currency: String,
    category_id: String,
    picture: String,
    attributes: BTreeMap<String, String>,
}

/// The element of an offer whose text is being read.
enum Field {
    Name,
    TypePrefix,
    Vendor,
    Model,
    Url,
    Price,
    OldPrice,
    Currency,
    Category,
    Picture,
    /// A `<param name="...">` (with its unit, if any) or another kept element.
    Attribute(String),
}

impl Offer {
    fn text(&mut self, field: &Field) -> &mut String {
        match field {
            Field::Name => &mut self.name,
            Field::TypePrefix => &mut self.type_prefix,
            Field::Vendor => &mut self.vendor,
            Field::Model => &mut self.model,
            Field::Url => &mut self.url,
            Field::Price => &mut self.price,
            Field::OldPrice => &mut self.old_price,
            Field::Currency => &mut self.currency,
            Field::Category => &mut self.category_id,
            Field::Picture => &mut self.picture,
            Field::Attribute(name) => self.attributes.entry(name.clone()).or_default(),
        }
    }
}

/// The shop-level facts offers refer to.
#[derive(Default)]
struct Shop {
    /// Category ID → (name, parent ID).
    categories: HashMap<String, (String, Option<String>)>,
    /// The currency whose rate is 1: offers without `<currencyId>` are priced in it.
    base_currency: Option<String>,
}

impl Shop {
    /// `Root > Child > Leaf` for a category ID, or empty if the ID is unknown.
    fn category_path(&self, id: &str) -> String {
        let mut names = Vec::new();
        let mut next = Some(id.to_string());
        while let Some(id) = next.take() {
            let Some((name, parent)) = self.categories.get(&id) else {
                break;
            };
            names.push(name.trim().to_string());
            if names.len() >= MAX_CATEGORY_DEPTH {
                break;
            }
            next = parent.clone();
        }
        names.reverse();
        names.join(" > ")
    }

    fn product(&self, offer: Offer) -> Result<Product, String> {
        if offer.id.is_empty() {
            return Err("<offer> has no id attribute".into());
        }
        let title = if !offer.name.trim().is_empty() {
            offer.name.trim().to_string()
        } else if !offer.model.trim().is_empty() {
            // vendor.model offers name the product by type, vendor and model.
            [&offer.type_prefix, &offer.vendor, &offer.model]
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            return Err("missing <name> (or <model>)".into());
        };
        let (regular, named_currency) = parse_amount(&offer.price)
            .ok_or_else(|| format!("<price> {:?} is not a price", offer.price))?;
        let old = if offer.old_price.trim().is_empty() {
            None
        } else {
            let (amount, _) = parse_amount(&offer.old_price)
                .ok_or_else(|| format!("<oldprice> {:?} is not a price", offer.old_price))?;
            Some(amount)
        };
        let currency = [Some(offer.currency.as_str()), named_currency]
            .into_iter()
            .flatten()
            .find(|c| !c.trim().is_empty())
            .map(|c| currency_code(c).ok_or_else(|| format!("currency {c:?} is not ISO 4217")))
            .transpose()?
            .or_else(|| self.base_currency.clone())
            .ok_or("no <currencyId> and the shop has no currency with rate=\"1\"")?;
        // The old price is the crossed-out one: it only counts when it is higher.
        let (price, old_price) = (regular, old.filter(|old| *old > regular));
        Ok(Product {
            id: offer.id,
            title,
            price,
            old_price,
            currency,
            category: self.category_path(offer.category_id.trim()),
            available: availability(&offer.available)?,
            image: offer.picture.trim().to_string(),
            url: offer.url.trim().to_string(),
            brand: Some(offer.vendor.trim().to_string()).filter(|v| !v.is_empty()),
            attributes: offer
                .attributes
                .into_iter()
                .map(|(k, v)| (k, v.trim().to_string()))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        })
    }
}

/// An attribute of `e`, unescaped.
fn attribute(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// The offer field an element inside `<offer>` fills, if it is one we keep.
fn field_of(e: &BytesStart) -> Option<Field> {
    Some(match e.local_name().as_ref() {
        b"name" => Field::Name,
        b"typePrefix" => Field::TypePrefix,
        b"vendor" => Field::Vendor,
        b"model" => Field::Model,
        b"url" => Field::Url,
        b"price" => Field::Price,
        b"oldprice" => Field::OldPrice,
        b"currencyId" => Field::Currency,
        b"categoryId" => Field::Category,
        b"picture" => Field::Picture,
        b"param" => {
            let name = attribute(e, b"name")?;
            Field::Attribute(match attribute(e, b"unit") {
                Some(unit) if !unit.is_empty() => format!("{name} ({unit})"),
                _ => name,
            })
        }
        b"description" | b"barcode" | b"country_of_origin" | b"vendorCode" | b"sales_notes" => {
            Field::Attribute(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
        }
        _ => return None,
    })
}

/// Where the reader is.
enum Place {
    Elsewhere,
    /// Inside `<category id=.. parentId=..>`: its text is the name.
    Category(String, Option<String>, String),
    /// Inside an `<offer>`, possibly in one of its fields.
    Offer(Box<Offer>, Option<Field>),
}

/// Parses a YML feed. Malformed XML stops the parse at that point and is reported as an error
/// row; offers before it are kept.
pub fn parse(xml: &str) -> FeedImport {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut shop = Shop::default();
    let mut offers: Vec<Offer> = Vec::new();
    let mut errors = Vec::new();
    let mut place = Place::Elsewhere;
    let mut row = 0;
    loop {
        let event = reader.read_event();
        match event {
            Ok(Event::Start(ref e)) | Ok(Event::Empty(ref e)) => {
                let empty = matches!(event, Ok(Event::Empty(_)));
                match (&mut place, e.local_name().as_ref()) {
                    (Place::Elsewhere, b"currency") => {
                        let rate = attribute(e, b"rate").unwrap_or_default();
                        if rate.trim() == "1" && shop.base_currency.is_none() {
                            shop.base_currency =
                                attribute(e, b"id").and_then(|c| currency_code(&c));
                        }
                    }
                    (Place::Elsewhere, b"category") => {
                        let id = attribute(e, b"id").unwrap_or_default();
                        let parent = attribute(e, b"parentId").filter(|p| !p.is_empty());
                        if !empty {
                            place = Place::Category(id, parent, String::new());
                        }
                    }
                    (Place::Elsewhere, b"offer") => {
                        row += 1;
                        let offer = Offer {
                            row,
                            id: attribute(e, b"id").unwrap_or_default(),
                            available: attribute(e, b"available").unwrap_or_default(),
                            ..Offer::default()
                        };
                        if empty {
                            offers.push(offer);
                        } else {
                            place = Place::Offer(Box::new(offer), None);
                        }
                    }
                    (Place::Offer(offer, field), _) if !empty => {
                        // The first <picture> is the main one.
                        *field = match field_of(e) {
                            Some(Field::Picture) if !offer.picture.is_empty() => None,
                            other => other,
                        };
                    }
                    _ => {}
                }
            }
            Ok(Event::Text(ref t)) => {
                let text = match t.unescape() {
                    Ok(text) => text.into_owned(),
                    Err(err) => {
                        let id = match &place {
                            Place::Offer(offer, _) => Some(offer.id.clone()),
                            _ => None,
                        };
                        errors.push(FeedRowError {
                            row,
                            id,
                            reason: format!("bad text: {err}"),
                        });
                        continue;
                    }
                };
                append(&mut place, &text);
            }
            Ok(Event::CData(c)) => {
                append(&mut place, &String::from_utf8_lossy(&c.into_inner()));
            }
            Ok(Event::End(ref e)) => match (&mut place, e.local_name().as_ref()) {
                (Place::Category(..), b"category") => {
                    if let Place::Category(id, parent, name) =
                        std::mem::replace(&mut place, Place::Elsewhere)
                    {
                        shop.categories.insert(id, (name, parent));
                    }
                }
                (Place::Offer(..), b"offer") => {
                    if let Place::Offer(offer, _) = std::mem::replace(&mut place, Place::Elsewhere)
                    {
                        offers.push(*offer);
                    }
                }
                (Place::Offer(_, field), _) => *field = None,
                _ => {}
            },
            Ok(Event::Eof) => {
                if let Place::Offer(offer, _) = &place {
                    errors.push(FeedRowError {
                        row,
                        id: Some(offer.id.clone()).filter(|i| !i.is_empty()),
                        reason: "feed ends inside an <offer>: it was cut off".into(),
                    });
                }
                break;
            }
            Ok(_) => {}
            Err(e) => {
                errors.push(FeedRowError {
                    row,
                    id: None,
                    reason: format!("malformed XML at byte {}: {e}", reader.error_position()),
                });
                break;
            }
        }
    }
    // Categories may follow offers in a hand-made feed: paths are resolved at the end.
    let mut out = FeedImport::default();
    for offer in offers {
        let (row, id) = (offer.row, Some(offer.id.clone()).filter(|i| !i.is_empty()));
        match shop.product(offer) {
            Ok(product) => out.products.push(product),
            Err(reason) => out.errors.push(FeedRowError { row, id, reason }),
        }
    }
    out.errors.extend(errors);
    out.errors.sort_by_key(|e| e.row);
    out
}

fn append(place: &mut Place, text: &str) {
    match place {
        Place::Category(_, _, name) => name.push_str(text),
        Place::Offer(offer, Some(field)) => offer.text(field).push_str(text),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE yml_catalog SYSTEM "shops.dtd">
<yml_catalog date="2026-11-01 10:00">
 <shop>
  <name>Lumen</name>
  <currencies><currency id="RUR" rate="1"/><currency id="USD" rate="90"/></currencies>
  <categories>
   <category id="1">Home</category>
   <category id="10" parentId="1">Lighting</category>
   <category id="11" parentId="10">Desk lamps</category>
  </categories>
  <offers>
   <offer id="L-1" available="true">
    <url>https://shop.example/l-1</url>
    <price>2490</price><oldprice>2990</oldprice>
    <categoryId>11</categoryId>
    <picture>https://shop.example/l-1.jpg</picture><picture>https://shop.example/l-1b.jpg</picture>
    <name>Brass desk lamp &amp; shade</name>
    <vendor>Lumen</vendor>
    <param name="Colour">brass</param><param name="Height" unit="cm">45</param>
   </offer>
   <offer id="L-2" type="vendor.model" available="false">
    <price>99.5</price><currencyId>USD</currencyId><categoryId>10</categoryId>
    <typePrefix>Floor lamp</typePrefix><vendor>Arc</vendor><model>A-7</model>
   </offer>
   <offer id="L-3"><price>free</price><name>Bad price</name></offer>
   <offer available="true"><price>10</price><name>No id</name></offer>
   <offer id="L-5"><price>10</price></offer>
   <offer id="L-6"><price>10</price><currencyId>EURO</currencyId><name>Bad currency</name></offer>
  </offers>
 </shop>
</yml_catalog>"#;

    #[test]
    fn offers_get_their_category_path_attributes_and_old_price() {
        let import = parse(FEED);
        let ids: Vec<&str> = import.products.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["L-1", "L-2"]);
        let lamp = &import.products[0];
        assert_eq!(lamp.title, "Brass desk lamp & shade");
        assert_eq!((lamp.price, lamp.old_price), (2490.0, Some(2990.0)));
        assert_eq!(
            lamp.currency, "RUB",
            "the shop's rate-1 currency, RUR written as RUB"
        );
        assert_eq!(lamp.category, "Home > Lighting > Desk lamps");
        assert_eq!(
            lamp.image, "https://shop.example/l-1.jpg",
            "the first picture"
        );
        assert_eq!(lamp.brand.as_deref(), Some("Lumen"));
        assert_eq!(
            lamp.attributes.get("Colour").map(String::as_str),
            Some("brass")
        );
        assert_eq!(
            lamp.attributes.get("Height (cm)").map(String::as_str),
            Some("45")
        );
        assert!(lamp.available);
        let floor = &import.products[1];
        assert_eq!(floor.title, "Floor lamp Arc A-7");
        assert_eq!((floor.price, floor.currency.as_str()), (99.5, "USD"));
        assert_eq!(floor.category, "Home > Lighting");
        assert!(!floor.available);
        assert_eq!(
            super::super::error_rows(&import),
            [
                (3, Some("L-3")),
                (4, None),
                (5, Some("L-5")),
                (6, Some("L-6"))
            ]
        );
        assert!(import.errors[0].reason.contains("<price>"));
        assert!(import.errors[1].reason.contains("id"));
        assert!(import.errors[2].reason.contains("<name>"));
        assert!(import.errors[3].reason.contains("ISO 4217"));
    }

    #[test]
    fn a_cut_off_feed_keeps_the_offers_before_the_cut() {
        let cut = FEED.find("<currencyId>USD").unwrap();
        let import = parse(&FEED[..cut]);
        assert_eq!(import.products.len(), 1);
        assert!(import.errors.last().unwrap().reason.contains("cut off"));
    }

    #[test]
    fn a_category_cycle_does_not_hang() {
        let feed = r#"<yml_catalog><shop><categories><category id="1" parentId="2">A</category>
            <category id="2" parentId="1">B</category></categories><offers>
            <offer id="x"><price>1 EUR</price><name>X</name><categoryId>1</categoryId></offer>
            </offers></shop></yml_catalog>"#;
        let import = parse(feed);
        assert_eq!(import.products.len(), 1);
        assert_eq!(
            import.products[0].category.split(" > ").count(),
            MAX_CATEGORY_DEPTH
        );
    }
}
