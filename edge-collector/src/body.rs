//! Reading a request body within a limit, decompressing gzip (which Segment clients may send)
//! without letting a small compressed body expand past the limit.

use std::io::Read;

use flate2::read::GzDecoder;
use protocol::batch::BatchError;
use worker::{Request, Response, Result};

use crate::reply;

/// The body as plain bytes, or why it cannot be read. `limit` applies to the uncompressed size;
/// a `Content-Length` over the limit is refused before the body is read.
pub async fn read(
    req: &mut Request,
    limit: usize,
) -> Result<std::result::Result<Vec<u8>, BatchError>> {
    let announced = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(bytes) = announced.filter(|&b| b > limit) {
        return Ok(Err(BatchError::TooLarge { bytes, limit }));
    }
    let encoding = req
        .headers()
        .get("content-encoding")?
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let raw = req.bytes().await?;
    Ok(match encoding.as_str() {
        "" | "identity" => Ok(raw),
        "gzip" | "x-gzip" => gunzip(&raw, limit),
        other => Err(BatchError::UnsupportedEncoding(other.into())),
    })
}

/// An admin document's body (a site configuration, a placement) as UTF-8 text within `limit`,
/// gzip or plain, or the refusal to answer with: `413 too_large` naming the limit (checked on
/// `Content-Length` before reading), `415 unsupported_encoding`, `400 bad_compression`,
/// `400 invalid_utf8`.
pub async fn read_document(
    req: &mut Request,
    limit: usize,
    what: &str,
) -> Result<std::result::Result<String, Response>> {
    Ok(match read(req, limit).await? {
        Ok(body) => match String::from_utf8(body) {
            Ok(text) => Ok(text),
            Err(_) => Err(reply::error(
                400,
                "invalid_utf8",
                format!("{what} must be UTF-8 JSON"),
            )?),
        },
        Err(BatchError::TooLarge { bytes, limit }) => Err(reply::error(
            413,
            "too_large",
            format!("{what} is {bytes} bytes; the limit is {limit}"),
        )?),
        Err(e) => Err(reply::json(e.status(), &e.body())?),
    })
}

fn gunzip(compressed: &[u8], limit: usize) -> std::result::Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    GzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| BatchError::BadCompression)?;
    if out.len() > limit {
        return Err(BatchError::TooLarge {
            bytes: out.len(),
            limit,
        });
    }
    Ok(out)
}
