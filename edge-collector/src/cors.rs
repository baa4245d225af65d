//! Browser access to the collector: same-origin requests always, other origins only when listed
//! in `ALLOWED_ORIGINS`; preflights answered; responses carry the matching CORS headers.

use protocol::auth::origin_allowed;
use worker::{Env, Request, Response, Result};

use crate::reply;

/// Where a request comes from, as far as the browser says.
pub enum Caller {
    /// No `Origin` header: a server, a Segment client, curl, or a same-origin GET.
    Server,
    /// A page on the collector's own origin (the shop, when the collector serves it).
    SameOrigin,
    /// A page on another origin that the allowlist admits; the value is that origin.
    Allowed(String),
    /// A page on an origin the allowlist does not admit.
    Foreign(String),
}

impl Caller {
    /// Classifies the request by its `Origin` header.
    pub fn of(req: &Request, env: &Env) -> Result<Self> {
        let Some(origin) = req.headers().get("origin")? else {
            return Ok(Caller::Server);
        };
        let own = req.url()?.origin().ascii_serialization();
        let allowlist = env
            .var("ALLOWED_ORIGINS")
            .map(|v| v.to_string())
            .unwrap_or_default();
        Ok(if origin.eq_ignore_ascii_case(&own) {
            Caller::SameOrigin
        } else if origin_allowed(&origin, &own, &allowlist) {
            Caller::Allowed(origin)
        } else {
            Caller::Foreign(origin)
        })
    }

    /// The refusal for a foreign origin.
    pub fn refuse(origin: &str) -> Result<Response> {
        reply::error(
            403,
            "origin_not_allowed",
            format!("pages on {origin} may not send to this collector; add it to ALLOWED_ORIGINS"),
        )
    }

    /// The answer to a preflight (`OPTIONS`) request.
    pub fn preflight(&self) -> Result<Response> {
        if let Caller::Foreign(origin) = self {
            return Self::refuse(origin);
        }
        let resp = Response::empty()?.with_status(204);
        let headers = resp.headers();
        headers.set("access-control-allow-methods", "GET, POST, DELETE, OPTIONS")?;
        headers.set(
            "access-control-allow-headers",
            "content-type, authorization, content-encoding",
        )?;
        headers.set("access-control-max-age", "86400")?;
        self.decorate(resp)
    }

    /// Adds the CORS headers an allowed cross-origin caller needs to read the answer.
    pub fn decorate(&self, resp: Response) -> Result<Response> {
        if let Caller::Allowed(origin) = self {
            let headers = resp.headers();
            headers.set("access-control-allow-origin", origin)?;
            headers.set("access-control-allow-credentials", "true")?;
            headers.append("vary", "Origin")?;
        }
        Ok(resp)
    }
}
