//! Which site a request acts for: the public write key (browser and Segment clients) or the
//! admin key (feed import and other admin endpoints).

use protocol::auth::{basic_auth_user, bearer_token, same_secret};
use worker::{Env, Request};

/// The site a request acts for, once its key checked out.
pub struct Site {
    /// Site ID used in every stored row.
    pub id: String,
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

fn check(env: &Env, key: Option<String>, setting_name: &str) -> Result<Result<Site, AuthError>> {
    let Some(key) = key else {
        return Ok(Err(AuthError::Missing));
    };
    if same_secret(&key, &setting(env, setting_name)?) {
        Ok(Ok(Site {
            id: setting(env, "SITE_ID")?,
        }))
    } else {
        Ok(Err(AuthError::Invalid))
    }
}

type Result<T, E = worker::Error> = std::result::Result<T, E>;

/// Checks the site's write key: HTTP Basic user name (Segment) or the body's `writeKey`.
pub fn writer(req: &Request, env: &Env, body_key: Option<&str>) -> Result<Result<Site, AuthError>> {
    let header = req.headers().get("authorization")?;
    let key = header
        .as_deref()
        .and_then(basic_auth_user)
        .or_else(|| body_key.filter(|k| !k.is_empty()).map(Into::into));
    check(env, key, "WRITE_KEY")
}

/// Checks the admin key, sent as `Authorization: Bearer KEY`.
pub fn admin(req: &Request, env: &Env) -> Result<Result<Site, AuthError>> {
    let header = req.headers().get("authorization")?;
    check(
        env,
        header.as_deref().and_then(bearer_token).map(Into::into),
        "ADMIN_KEY",
    )
}
