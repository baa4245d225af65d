//! JSON answers with Orbita's error shape.

use protocol::verdict::ErrorBody;
use serde::Serialize;
use worker::{Response, Result};

/// A JSON answer with the given status; never cached.
pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response> {
    let resp = Response::from_json(body)?.with_status(status);
    resp.headers().set("cache-control", "no-store")?;
    Ok(resp)
}

/// An error answer: `{"success": false, "error": code, "message": ...}`.
pub fn error(status: u16, code: &str, message: impl Into<String>) -> Result<Response> {
    json(
        status,
        &ErrorBody {
            success: false,
            error: code.into(),
            message: message.into(),
        },
    )
}
