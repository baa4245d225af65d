//! Keeping the identity graph current: every request's identifiers are resolved into profiles
//! at once (one read, at most one write batch per request), with the rules of
//! `engine::identity`.

use std::collections::BTreeSet;

use engine::identity::{apply, resolve, IdKind, Identifier, Known, Plan};
use protocol::event::ValidEvent;
use protocol::ids::is_uuid;
use serde::Deserialize;
use serde_json::Value;
use worker::{wasm_bindgen::JsValue, D1Database, D1PreparedStatement, Result};

/// What the graph knows about a request's identifiers, plus the customer IDs of the profiles
/// they belong to (the engine needs those to avoid merging two customers).
pub(crate) const LOAD_KNOWN: &str = "WITH wanted AS ( \
      SELECT json_extract(value, '$.kind') AS kind, json_extract(value, '$.value') AS value FROM json_each(?2)), \
    hit AS ( \
      SELECT i.kind, i.value, i.profile_id FROM wanted w CROSS JOIN identities i \
        ON i.site_id = ?1 AND i.kind = w.kind AND i.value = w.value), \
    found AS ( \
      SELECT kind, value, profile_id FROM hit \
      UNION SELECT i.kind, i.value, i.profile_id FROM hit h \
        CROSS JOIN identities i INDEXED BY identities_by_profile \
        ON i.site_id = ?1 AND i.profile_id = h.profile_id WHERE i.kind = 'user') \
  SELECT f.kind, f.value, f.profile_id, p.created_at_ms \
  FROM found f CROSS JOIN profiles p ON p.site_id = ?1 AND p.profile_id = f.profile_id";

pub(crate) const CLAIM_PROFILES: &str =
    "INSERT OR IGNORE INTO profiles (site_id, profile_id, created_at_ms) \
  SELECT ?1, json_extract(j.value, '$.profile'), ?2 FROM json_each(?3) j \
  WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.site_id = ?1 \
    AND i.kind = json_extract(j.value, '$.kind') AND i.value = json_extract(j.value, '$.value'))";
pub(crate) const CLAIM_IDENTITIES: &str = "INSERT OR IGNORE INTO identities (site_id, kind, value, profile_id, linked_at_ms) \
  SELECT ?1, json_extract(value, '$.kind'), json_extract(value, '$.value'), json_extract(value, '$.profile'), ?2 \
  FROM json_each(?3)";
pub(crate) const CREATE_PROFILE: &str =
    "INSERT OR IGNORE INTO profiles (site_id, profile_id, created_at_ms) VALUES (?1, ?2, ?3)";
pub(crate) const MERGE_IDENTITIES: &str =
    "UPDATE identities INDEXED BY identities_by_profile SET profile_id = ?2 \
    WHERE site_id = ?1 AND profile_id IN (SELECT value FROM json_each(?3))";
/// The merged profiles, and the profiles merged into them before (two statements: with an OR
/// SQLite reads every profile of the site).
pub(crate) const MERGE_PROFILES: [&str; 2] = [
    "UPDATE profiles SET merged_into = ?2 \
    WHERE site_id = ?1 AND profile_id IN (SELECT value FROM json_each(?3))",
    "UPDATE profiles INDEXED BY profiles_by_merged_into SET merged_into = ?2 \
    WHERE site_id = ?1 AND merged_into IN (SELECT value FROM json_each(?3))",
];
pub(crate) const LINK: &str = "INSERT INTO identities (site_id, kind, value, profile_id, linked_at_ms) \
  SELECT ?1, json_extract(value, '$.kind'), json_extract(value, '$.value'), ?2, ?3 FROM json_each(?4) WHERE true \
  ON CONFLICT (site_id, kind, value) DO UPDATE SET profile_id = excluded.profile_id, linked_at_ms = excluded.linked_at_ms";

#[derive(Deserialize)]
struct KnownRow {
    kind: IdKind,
    value: String,
    profile_id: String,
    created_at_ms: f64,
}

/// The identifiers one event shows together; `context` is the event's parsed `context`.
pub fn sighting(event: &ValidEvent, context: &Value) -> Vec<Identifier> {
    let mut ids = BTreeSet::new();
    let mut add = |kind, raw: Option<&str>| {
        if let Some(id) = raw.and_then(|r| Identifier::new(kind, r)) {
            ids.insert(id);
        }
    };
    add(IdKind::Anonymous, event.anonymous_id.as_deref());
    add(IdKind::User, event.user_id.as_deref());
    // Contact keys in `traits` (identify) or `context.traits` (Segment's place on other events).
    let traits = serde_json::from_str::<Value>(&event.traits).ok();
    for source in [traits.as_ref(), context.get("traits")]
        .into_iter()
        .flatten()
    {
        add(IdKind::Email, source.get("email").and_then(Value::as_str));
        add(IdKind::Phone, source.get("phone").and_then(Value::as_str));
    }
    // Segment's alias: `previousId` is the identity being joined to `userId`.
    if event.kind == protocol::names::types::ALIAS {
        let previous = serde_json::from_str::<Value>(&event.raw).ok();
        let previous = previous
            .as_ref()
            .and_then(|v| v.get("previousId"))
            .and_then(Value::as_str);
        let kind = if previous.is_some_and(is_uuid) {
            IdKind::Anonymous
        } else {
            IdKind::User
        };
        add(kind, previous);
    }
    ids.into_iter().collect()
}

/// Planned identity changes, not yet written: the profile of each sighting, and the statements
/// to run (in the same D1 batch as the events, so one transaction covers both).
pub struct Changes {
    /// The profile of each sighting, in order.
    pub profiles: Vec<String>,
    /// Statements that apply the plans.
    pub statements: Vec<D1PreparedStatement>,
}

/// Reads what the graph knows about the sightings (one query) and plans the changes.
pub async fn plan(
    db: &D1Database,
    site: &str,
    sightings: &[Vec<Identifier>],
    now_ms: i64,
) -> Result<Changes> {
    let mut changes = Changes {
        profiles: Vec::new(),
        statements: Vec::new(),
    };
    if sightings.is_empty() {
        return Ok(changes);
    }
    let wanted: BTreeSet<&Identifier> = sightings.iter().flatten().collect();
    let wanted =
        serde_json::to_string(&wanted).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let site_param = JsValue::from(site);
    let rows: Vec<KnownRow> = db
        .prepare(LOAD_KNOWN)
        .bind(&[site_param.clone(), JsValue::from(wanted)])?
        .all()
        .await?
        .results()?;
    let mut known: Vec<Known> = rows
        .into_iter()
        .map(|r| Known {
            identifier: Identifier {
                kind: r.kind,
                value: r.value,
            },
            profile_id: r.profile_id,
            profile_created_ms: r.created_at_ms as i64,
        })
        .collect();
    for seen in sightings {
        let plan = resolve(seen, &known, &crate::ids::random("p-"));
        apply(&mut known, &plan, now_ms);
        changes
            .statements
            .extend(write(db, &site_param, &plan, now_ms)?);
        changes.profiles.push(plan.profile_id);
    }
    Ok(changes)
}

/// Resolves the sightings and writes the changes at once; returns the profile of each.
pub async fn update(
    db: &D1Database,
    site: &str,
    sightings: &[Vec<Identifier>],
    now_ms: i64,
) -> Result<Vec<String>> {
    let changes = plan(db, site, sightings, now_ms).await?;
    if !changes.statements.is_empty() {
        // One batch is one transaction: a merge happens whole or not at all.
        db.batch(changes.statements).await?;
    }
    Ok(changes.profiles)
}

/// Gives identifiers seen alone (the common case: a browser's anonymous ID) their own profile
/// if they have none yet, without reading first: the profile ID derives from the identifier,
/// and both inserts are no-ops for identifiers the graph already has. Run before the events.
pub fn claim(
    db: &D1Database,
    site: &str,
    alone: &[&Identifier],
    now_ms: i64,
) -> Result<Vec<D1PreparedStatement>> {
    if alone.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Value> = alone
        .iter()
        .map(|id| serde_json::json!({"kind": id.kind, "value": id.value, "profile": id.own_profile_id()}))
        .collect();
    let params = [
        JsValue::from(site),
        JsValue::from_f64(now_ms as f64),
        json(&rows),
    ];
    Ok(vec![
        db.prepare(CLAIM_PROFILES).bind(&params)?,
        db.prepare(CLAIM_IDENTITIES).bind(&params)?,
    ])
}

fn write(
    db: &D1Database,
    site: &JsValue,
    plan: &Plan,
    now_ms: i64,
) -> Result<Vec<D1PreparedStatement>> {
    let profile = JsValue::from(plan.profile_id.as_str());
    let now = JsValue::from_f64(now_ms as f64);
    let mut out = Vec::new();
    if plan.create_profile {
        out.push(
            db.prepare(CREATE_PROFILE)
                .bind(&[site.clone(), profile.clone(), now.clone()])?,
        );
    }
    if !plan.merge_from.is_empty() {
        let merged = json(&plan.merge_from);
        out.push(db.prepare(MERGE_IDENTITIES).bind(&[
            site.clone(),
            profile.clone(),
            merged.clone(),
        ])?);
        for sql in MERGE_PROFILES {
            out.push(
                db.prepare(sql)
                    .bind(&[site.clone(), profile.clone(), merged.clone()])?,
            );
        }
    }
    if !plan.link.is_empty() {
        out.push(
            db.prepare(LINK)
                .bind(&[site.clone(), profile, now, json(&plan.link)])?,
        );
    }
    Ok(out)
}

/// A value as a JSON text parameter.
fn json<T: serde::Serialize>(value: &T) -> JsValue {
    JsValue::from(serde_json::to_string(value).unwrap_or_else(|_| "[]".into()))
}
