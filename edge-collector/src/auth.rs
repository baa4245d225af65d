//! Which site a request acts for, and with what trust: the public write key (browsers and
//! Segment clients), the secret server key (the shop's backend) or the admin key.

use protocol::auth::{basic_auth_user, bearer_token, decode_base64, same_secret};
use protocol::event::Sender;
use worker::{Env, Request};

type Result<T, E = worker::Error> = std::result::Result<T, E>;

/// The site a request acts for, once its key checked out.
pub struct Site {
    /// Site ID used in every stored row.
    pub id: String,
    /// Which key was used: decides how events may identify people.
    pub sender: Sender,
}

/// Why a request was not authorised (HTTP 401).
pub enum AuthError {
    /// No key in the request.
    Missing,
    /// A key that is not this site's.
    Invalid,
}

impl AuthError {
    /// Error code and message for the 401 answer.
    pub fn describe(&self, how: &str) -> (&'static str, String) {
        match self {
            Self::Missing => ("missing_key", format!("send the key {how}")),
            Self::Invalid => (
                "invalid_key",
                "the key is not valid for this collector".into(),
            ),
        }
    }
}

fn setting(env: &Env, name: &str) -> Result<String> {
    Ok(env.var(name)?.to_string())
}

/// The password of an HTTP Basic header (Yespo's API sends its key there).
fn basic_auth_password(header: &str) -> Option<String> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(decode_base64(encoded.trim())?).ok()?;
    let (_, password) = decoded.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

/// Checks an ingestion request's key: the secret server key (as Bearer token, or as Basic user
/// name or password), or the public write key (Basic user name, or `writeKey` in the body).
pub fn writer(req: &Request, env: &Env, body_key: Option<&str>) -> Result<Result<Site, AuthError>> {
    let header = req.headers().get("authorization")?.unwrap_or_default();
    let candidates: Vec<String> = [
        bearer_token(&header).map(str::to_string),
        basic_auth_user(&header),
        basic_auth_password(&header),
        body_key.filter(|k| !k.is_empty()).map(str::to_string),
    ]
    .into_iter()
    .flatten()
    .collect();
    if candidates.is_empty() {
        return Ok(Err(AuthError::Missing));
    }
    let (server_key, write_key) = (setting(env, "SERVER_KEY")?, setting(env, "WRITE_KEY")?);
    let sender = if candidates.iter().any(|k| same_secret(k, &server_key)) {
        Sender::Server
    } else if candidates.iter().any(|k| same_secret(k, &write_key)) {
        Sender::Browser
    } else {
        return Ok(Err(AuthError::Invalid));
    };
    Ok(Ok(Site {
        id: setting(env, "SITE_ID")?,
        sender,
    }))
}

/// Checks the admin key, sent as `Authorization: Bearer KEY`.
pub fn admin(req: &Request, env: &Env) -> Result<Result<Site, AuthError>> {
    let header = req.headers().get("authorization")?;
    let Some(key) = header.as_deref().and_then(bearer_token) else {
        return Ok(Err(AuthError::Missing));
    };
    if same_secret(key, &setting(env, "ADMIN_KEY")?) {
        Ok(Ok(Site {
            id: setting(env, "SITE_ID")?,
            sender: Sender::Server,
        }))
    } else {
        Ok(Err(AuthError::Invalid))
    }
}
