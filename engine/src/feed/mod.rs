//! Product feed import: Google Merchant Center XML, YML (`yml_catalog`) and CSV, each parsed into
//! the same [`FeedImport`]: the products that parsed and, for each entry that did not, its
//! position, ID and the reason. Good entries always load.

mod csv;
mod merchant;
mod yml;

use crate::catalogue::Product;

/// A feed entry that could not be imported, and why. Good entries still load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRowError {
    /// 1-based position of the entry: the `<item>`/`<entry>` or `<offer>`, or the CSV data row
    /// (the header is row 0).
    pub row: usize,
    /// The entry's ID, when it had one.
    pub id: Option<String>,
    /// What was wrong.
    pub reason: String,
}

/// Result of parsing a feed: the products that parsed and the entries that did not.
#[derive(Debug, Default)]
pub struct FeedImport {
    /// Products in feed order.
    pub products: Vec<Product>,
    /// Entries that were skipped.
    pub errors: Vec<FeedRowError>,
}

/// The feed formats Orbita reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// Google Merchant Center XML (RSS 2.0 or Atom with the `g:` namespace).
    Merchant,
    /// YML, Yandex Market Language: `<yml_catalog><shop>` with `<categories>` and `<offers>`.
    Yml,
    /// CSV with a header row. The header names the columns, in any order and case: `id`, `title` (or
    /// `name`), `price`, `old_price` (or `oldprice`, `compare_at_price`), `currency`, `category` (or
    /// `category_path`, `product_type`), `availability` (or `available`, `in_stock`), `image` (or
    /// `image_url`, `image_link`, `picture`), `url` (or `link`), `brand` (or `vendor`); every other
    /// column is an attribute. `,` or `;` separated, quoted fields per RFC 4180.
    Csv,
}

impl FeedFormat {
    /// Recognises a feed by its first bytes: XML with a `<yml_catalog` root is YML, other XML is
    /// Merchant Center, anything else is CSV.
    pub fn detect(text: &str) -> FeedFormat {
        let start = text.trim_start_matches('\u{feff}').trim_start();
        if !start.starts_with('<') {
            return FeedFormat::Csv;
        }
        // The root element comes after the XML declaration, comments and a DOCTYPE: look a
        // little way in rather than parsing.
        let mut end = start.len().min(4096);
        while !start.is_char_boundary(end) {
            end -= 1;
        }
        let head = &start[..end];
        if head.contains("<yml_catalog") {
            FeedFormat::Yml
        } else {
            FeedFormat::Merchant
        }
    }

    /// The name used in answers and on the command line: `merchant`, `yml` or `csv`.
    pub fn name(self) -> &'static str {
        match self {
            FeedFormat::Merchant => "merchant",
            FeedFormat::Yml => "yml",
            FeedFormat::Csv => "csv",
        }
    }

    /// The format named `merchant` (or `google`), `yml` or `csv`.
    pub fn from_name(name: &str) -> Option<FeedFormat> {
        match name.to_ascii_lowercase().as_str() {
            "merchant" | "google" | "rss" => Some(FeedFormat::Merchant),
            "yml" => Some(FeedFormat::Yml),
            "csv" => Some(FeedFormat::Csv),
            _ => None,
        }
    }
}

/// Parses a feed in `format`.
pub fn parse_feed(text: &str, format: FeedFormat) -> FeedImport {
    match format {
        FeedFormat::Merchant => merchant::parse(text),
        FeedFormat::Yml => yml::parse(text),
        FeedFormat::Csv => csv::parse(text),
    }
}

/// Parses a Google Merchant Center XML feed. Malformed XML stops the parse at that point and is
/// reported as an error row; entries before it are kept.
pub fn parse_merchant_feed(xml: &str) -> FeedImport {
    merchant::parse(xml)
}

/// Parses a price: `"49.00 USD"` (Merchant Center), or `"49.00"` / `"49,00"` with the currency
/// given separately. Returns the amount and the currency, if the text names one.
fn parse_amount(text: &str) -> Option<(f64, Option<&str>)> {
    let mut parts = text.split_whitespace();
    let number = parts.next()?;
    let currency = parts.next();
    if parts.next().is_some() {
        return None;
    }
    // A decimal comma (`49,90`) is common in European feeds; thousands separators are not
    // accepted, as `1,000` would be ambiguous.
    let amount: f64 = if number.contains(',') && !number.contains('.') {
        number.replacen(',', ".", 1).parse().ok()?
    } else {
        number.parse().ok()?
    };
    (amount.is_finite() && amount >= 0.0).then_some((amount, currency))
}

/// A currency code as ISO 4217 writes it; YML's historical `RUR` is `RUB`.
fn currency_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    let code = if code == "RUR" {
        "RUB".to_string()
    } else {
        code
    };
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

/// Parses `"49.00 USD"` (Merchant Center's format) into amount and currency.
fn parse_price(text: &str) -> Option<(f64, String)> {
    let (amount, currency) = parse_amount(text)?;
    Some((amount, currency_code(currency?)?))
}

/// Whether an availability value means the product can be bought; empty means yes. Accepts
/// Merchant Center's values, YML's `true`/`false` and the usual spreadsheet spellings.
fn availability(text: &str) -> Result<bool, String> {
    match text
        .trim()
        .to_ascii_lowercase()
        .replace(['_', '-'], " ")
        .as_str()
    {
        "" | "in stock" | "instock" | "true" | "yes" | "1" | "available" | "preorder"
        | "backorder" => Ok(true),
        "out of stock" | "outofstock" | "false" | "no" | "0" | "unavailable" | "discontinued" => {
            Ok(false)
        }
        other => Err(format!(
            "availability {other:?} is not in stock / out of stock"
        )),
    }
}

/// The selling price and the price before a discount from a feed's regular and sale prices:
/// a sale price only counts when it is lower.
fn sale(regular: f64, sale: Option<f64>) -> (f64, Option<f64>) {
    match sale {
        Some(sale) if sale < regular => (sale, Some(regular)),
        _ => (regular, None),
    }
}

/// `(row, id)` of each bad entry, for the parsers' tests.
#[cfg(test)]
fn error_rows(import: &FeedImport) -> Vec<(usize, Option<&str>)> {
    import
        .errors
        .iter()
        .map(|e| (e.row, e.id.as_deref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_their_first_bytes() {
        let yml = "\u{feff}<?xml version=\"1.0\"?>\n<!DOCTYPE yml_catalog SYSTEM \"shops.dtd\">\n<yml_catalog date=\"2026-01-01\">";
        assert_eq!(FeedFormat::detect(yml), FeedFormat::Yml);
        let rss = "<?xml version=\"1.0\"?><rss xmlns:g=\"http://base.google.com/ns/1.0\">";
        assert_eq!(FeedFormat::detect(rss), FeedFormat::Merchant);
        assert_eq!(
            FeedFormat::detect("id,title,price\n1,Cup,3"),
            FeedFormat::Csv
        );
        assert_eq!(FeedFormat::detect(""), FeedFormat::Csv);
    }

    #[test]
    fn prices_accept_a_decimal_comma_and_reject_what_is_not_a_price() {
        assert_eq!(parse_price("49.90 EUR"), Some((49.9, "EUR".into())));
        assert_eq!(parse_price("49,90 eur"), Some((49.9, "EUR".into())));
        assert_eq!(parse_price("8990 RUR"), Some((8990.0, "RUB".into())));
        assert_eq!(parse_price("49.90"), None, "no currency");
        assert_eq!(parse_price("-1 EUR"), None);
        assert_eq!(parse_price("1,000.50 EUR"), None);
        assert_eq!(parse_price("NaN EUR"), None);
        assert_eq!(parse_price("5 EURO"), None);
    }

    #[test]
    fn availability_words() {
        assert_eq!(availability("in_stock"), Ok(true));
        assert_eq!(availability("Out of Stock"), Ok(false));
        assert_eq!(availability("false"), Ok(false));
        assert_eq!(availability(""), Ok(true));
        assert!(availability("maybe").is_err());
    }
}
