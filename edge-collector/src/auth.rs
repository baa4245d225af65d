//! Which site a request acts for, and with what trust: the public write key (browsers and
//! Segment clients), the secret server key (the shop's backend) or the admin key.

use protocol::auth::{basic_auth_password, basic_auth_user, bearer_token, same_secret};
use protocol::event::Sender;
use worker::{Env, Request, Response};

use crate::reply;

type Result<T, E = worker::Error> = std::result::Result<T, E>;

/// The site a request acts for, once its key checked out.
pub struct Site {
    /// Site ID used in every stored row.
    pub id: String,
    /// Which key was used: decides how events may identify people.
    pub sender: Sender,
}

/// Why a request was not authorised.
enum AuthError {
    /// No key in the request.
    Missing,
    /// A key that is not this site's.
    Invalid,
}

impl AuthError {
    /// The 401 answer; `how` says how the key should have been sent.
    fn refusal(&self, how: &str) -> Result<Response> {
        match self {
            Self::Missing => reply::error(401, "missing_key", format!("send the key {how}")),
            Self::Invalid => reply::error(
                401,
                "invalid_key",
                "the key is not valid for this collector",
            ),
        }
    }
}

fn setting(env: &Env, name: &str) -> Result<String> {
    Ok(env.var(name)?.to_string())
}

/// Checks an ingestion request's key: the secret server key (as Bearer token, or as Basic user
/// name or password), or the public write key (Basic user name, or `writeKey` in the body).
/// A refused request gets its 401 answer.
pub fn writer(req: &Request, env: &Env, body_key: Option<&str>) -> Result<Result<Site, Response>> {
    const HOW: &str = "as HTTP Basic auth user name or as `writeKey` in the body";
    Ok(match writer_key(req, env, body_key)? {
        Ok(site) => Ok(site),
        Err(e) => Err(e.refusal(HOW)?),
    })
}

fn writer_key(req: &Request, env: &Env, body_key: Option<&str>) -> Result<Result<Site, AuthError>> {
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

/// Checks the admin key, sent as `Authorization: Bearer KEY`. A refused request gets its 401
/// answer.
pub fn admin(req: &Request, env: &Env) -> Result<Result<Site, Response>> {
    let header = req.headers().get("authorization")?;
    let error = match header.as_deref().and_then(bearer_token) {
        Some(key) if same_secret(key, &setting(env, "ADMIN_KEY")?) => {
            return Ok(Ok(Site {
                id: setting(env, "SITE_ID")?,
                sender: Sender::Server,
            }));
        }
        Some(_) => AuthError::Invalid,
        None => AuthError::Missing,
    };
    Ok(Err(error.refusal("as `Authorization: Bearer ADMIN_KEY`")?))
}
