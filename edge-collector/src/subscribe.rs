//! `POST /v1/subscribe`: a subscription form's submission. Checks the values against the
//! widget's fields in the site configuration, joins the visitor's device, email and phone in
//! the identity graph, stores the subscription (status `pending` with double opt-in) and a
//! consent record (time, widget, variant, the consent text and its SHA-256), and, for double
//! opt-in, records the event the platform's mailer sends the confirmation on. No mail is sent
//! here.

use engine::identity::{IdKind, Identifier};
use protocol::site_config::{subscribe as sub, FieldType, WidgetKind};
use serde_json::{json, Map, Value};
use worker::{wasm_bindgen::JsValue, Date, Env, Request, Response, Result};

use crate::site_config::{load, sha256_hex};
use crate::{auth, body, identity, reply};

/// Largest submission accepted.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest value of one field.
const MAX_VALUE_CHARS: usize = 500;

pub(crate) const UPSERT: &str = "INSERT INTO subscriptions (site_id, channel, address, profile_id, status, widget_id, \
    fields, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
  ON CONFLICT (site_id, channel, address) DO UPDATE SET profile_id = excluded.profile_id, \
    status = CASE WHEN subscriptions.status = 'subscribed' THEN 'subscribed' ELSE excluded.status END, \
    widget_id = excluded.widget_id, fields = excluded.fields, updated_at_ms = excluded.updated_at_ms";
pub(crate) const CONSENT: &str =
    "INSERT INTO consent_records (site_id, record_id, profile_id, widget_id, variant, \
    consent_text, consent_text_hash, granted_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
pub(crate) const EVENT: &str = "INSERT INTO events (site_id, message_id, type, event, anonymous_id, timestamp_ms, \
    received_at_ms, event_time_ms, raw, profile_id) VALUES (?1, ?2, 'track', ?3, ?4, ?5, ?5, ?5, ?6, ?7)";

/// A typed 400 naming the field at fault.
fn field_error(field: &str, code: &str, message: &str) -> Result<Response> {
    reply::json(
        400,
        &json!({"success": false, "error": code, "field": field, "message": message}),
    )
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Handles the submission.
pub async fn handle(mut req: Request, env: &Env) -> Result<Response> {
    let raw = match body::read(&mut req, MAX_BODY_BYTES).await? {
        Ok(raw) => raw,
        Err(e) => return reply::json(e.status(), &e.body()),
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&raw) else {
        return reply::error(400, "invalid_json", "the body must be a JSON object");
    };
    let site = match auth::writer(&req, env, text(&body, sub::WRITE_KEY))? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let config = load(env, &site.id).await?;
    let widget_id = text(&body, sub::WIDGET_ID).unwrap_or_default();
    let Some(widget) = config
        .widgets
        .iter()
        .find(|w| w.id == widget_id && w.kind != WidgetKind::Push)
    else {
        return field_error(
            sub::WIDGET_ID,
            "unknown_widget",
            "no subscription form with this ID in the site configuration",
        );
    };
    let variant = text(&body, sub::VARIANT);
    if let Some(v) = variant {
        if !widget.variants.iter().any(|x| x.name == v) {
            return field_error(
                sub::VARIANT,
                "unknown_variant",
                "the widget has no such variant",
            );
        }
    }
    let empty = Map::new();
    let values = match body.get(sub::FIELDS) {
        Some(Value::Object(values)) => values,
        None => &empty,
        Some(_) => return field_error(sub::FIELDS, "invalid_fields", "`fields` must be an object"),
    };
    if let Some(unknown) = values
        .keys()
        .find(|k| !widget.fields.iter().any(|f| &f.name == *k))
    {
        return field_error(unknown, "unknown_field", "the form has no such field");
    }
    let mut ids = Vec::new();
    let mut kept = Map::new();
    let mut channels = Vec::new();
    for field in &widget.fields {
        let value = match values.get(&field.name) {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.trim(),
            Some(_) => return field_error(&field.name, "invalid_field", "must be text"),
        };
        if value.is_empty() {
            if field.required {
                return field_error(&field.name, "missing_field", "this field is required");
            }
            continue;
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return field_error(&field.name, "invalid_field", "too long");
        }
        let contact = match field.kind {
            FieldType::Email => Some((IdKind::Email, "email", "not an email address")),
            FieldType::Phone => Some((IdKind::Phone, "phone", "not a phone number")),
            _ => None,
        };
        if let Some((kind, channel, problem)) = contact {
            let Some(id) = Identifier::new(kind, value) else {
                return field_error(&field.name, "invalid_field", problem);
            };
            channels.push((channel, id.value.clone()));
            ids.push(id);
        } else {
            kept.insert(field.name.clone(), Value::from(value));
        }
    }
    if channels.is_empty() {
        return field_error(
            sub::FIELDS,
            "missing_contact",
            "an email address or a phone number is required",
        );
    }
    let consent_text = widget.consent_text(variant);
    let consented = body.get(sub::CONSENT).and_then(Value::as_bool) == Some(true);
    if consent_text.is_some() && !consented {
        return field_error(
            sub::CONSENT,
            "consent_required",
            "the consent box must be ticked",
        );
    }
    let anonymous_id = text(&body, sub::ANONYMOUS_ID).filter(|a| a.len() <= 64);
    if let Some(id) = anonymous_id.and_then(|a| Identifier::new(IdKind::Anonymous, a)) {
        ids.push(id);
    }

    let db = env.d1("DB")?;
    let now = Date::now().as_millis() as i64;
    let profile = identity::update(&db, &site.id, &[ids], now)
        .await?
        .pop()
        .unwrap_or_default();
    let status = if widget.double_opt_in {
        sub::STATUS_PENDING
    } else {
        sub::STATUS_SUBSCRIBED
    };
    let site_param = JsValue::from(site.id.as_str());
    let profile_param = JsValue::from(profile.as_str());
    let now_param = JsValue::from_f64(now as f64);
    let kept = Value::Object(kept).to_string();
    let mut statements = Vec::new();
    for (channel, address) in &channels {
        statements.push(db.prepare(UPSERT).bind(&[
            site_param.clone(),
            (*channel).into(),
            address.as_str().into(),
            profile_param.clone(),
            status.into(),
            widget.id.as_str().into(),
            kept.as_str().into(),
            now_param.clone(),
        ])?);
    }
    let consent_hash = consent_text.map(sha256_hex);
    if let (Some(consent), Some(hash)) = (consent_text, &consent_hash) {
        statements.push(db.prepare(CONSENT).bind(&[
            site_param.clone(),
            crate::ids::random("c-").into(),
            profile_param.clone(),
            widget.id.as_str().into(),
            variant.map_or(JsValue::NULL, JsValue::from),
            consent.into(),
            hash.as_str().into(),
            now_param.clone(),
        ])?);
    }
    if widget.double_opt_in {
        let message_id = crate::ids::random("sub-");
        let mut time = [0u8; 24];
        let mut properties = json!({"widget_id": widget.id, "status": status});
        for (channel, address) in &channels {
            properties[*channel] = Value::from(address.as_str());
        }
        if let Some(v) = variant {
            properties["variant"] = Value::from(v);
        }
        if let Some(hash) = &consent_hash {
            properties["consent_text_hash"] = Value::from(hash.as_str());
        }
        let event = json!({
            "type": "track",
            "event": sub::CONFIRMATION_REQUESTED,
            "messageId": message_id,
            "anonymousId": anonymous_id,
            "timestamp": protocol::time::format_rfc3339_ms(now, &mut time),
            "properties": properties,
        });
        statements.push(db.prepare(EVENT).bind(&[
            site_param,
            message_id.as_str().into(),
            sub::CONFIRMATION_REQUESTED.into(),
            anonymous_id.map_or(JsValue::NULL, JsValue::from),
            now_param,
            event.to_string().into(),
            profile_param,
        ])?);
    }
    db.batch(statements).await?;
    reply::json(200, &json!({"success": true, "status": status}))
}
