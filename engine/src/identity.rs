//! The identity graph: which identifiers (anonymous device IDs, the shop's customer ID, email,
//! phone) belong to which profile, and how a new sighting changes that.
//!
//! Pure planning: the collector loads what it knows about the identifiers of a request, asks
//! [`resolve`] for a [`Plan`] per sighting, and applies the plans to storage.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Kinds of identifiers, with the names stored in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// A device's anonymous ID (the tracker's cookie).
    Anonymous,
    /// The shop's own customer ID (`userId`, or a click token's contact ID).
    User,
    /// An email address, lowercased.
    Email,
    /// A phone number, as `+` and digits.
    Phone,
}

impl IdKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::User => "user",
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }
}

/// One identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// What kind of identifier.
    pub kind: IdKind,
    /// Its normalised value.
    pub value: String,
}

impl Identifier {
    /// An identifier of `kind`, normalised; `None` if the value is not usable.
    pub fn new(kind: IdKind, raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let value = match kind {
            IdKind::Email => {
                let email = raw.to_lowercase();
                let (local, domain) = email.split_once('@')?;
                (!local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace))
                    .then_some(email)?
            }
            IdKind::Phone => {
                let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
                (7..=15)
                    .contains(&digits.len())
                    .then(|| format!("+{digits}"))?
            }
            _ => (!raw.is_empty()).then(|| raw.to_string())?,
        };
        Some(Identifier { kind, value })
    }
}

impl Identifier {
    /// The profile ID an identifier gets when it is first seen alone: derived from the
    /// identifier (two 64-bit FNV-1a hashes, so the value itself is not readable in the ID), so
    /// storage can claim it without reading first. Later merges may move the identifier.
    pub fn own_profile_id(&self) -> String {
        let fnv = |mut h: u64| {
            for b in self
                .kind
                .as_str()
                .bytes()
                .chain([0])
                .chain(self.value.bytes())
            {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            h
        };
        format!(
            "p-{:016x}{:08x}",
            fnv(0xcbf2_9ce4_8422_2325),
            fnv(0x8422_2325_cbf2_9ce4) >> 32
        )
    }
}

/// What the graph already knows about one identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The identifier.
    pub identifier: Identifier,
    /// The profile it belongs to.
    pub profile_id: String,
    /// When that profile was created (the oldest profile survives a merge).
    pub profile_created_ms: i64,
}

/// The changes one sighting makes to the graph.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The profile the sighting belongs to.
    pub profile_id: String,
    /// The profile is new and must be created.
    pub create_profile: bool,
    /// Identifiers to point at `profile_id` (new links, or devices moving to this customer).
    pub link: Vec<Identifier>,
    /// Profiles folded into `profile_id`: their identifiers move over and they are marked merged.
    pub merge_from: Vec<String>,
}

impl Plan {
    /// Whether the plan changes nothing.
    pub fn is_noop(&self) -> bool {
        !self.create_profile && self.link.is_empty() && self.merge_from.is_empty()
    }
}

/// Decides which profile a set of identifiers seen together belongs to.
///
/// `known` holds what the graph knows about `seen`, plus the customer IDs (`User`) of every
/// profile involved. Rules: the oldest compatible profile survives and absorbs the others; two
/// profiles with different customer IDs are never merged (a shared computer where two customers
/// log in): instead the device's anonymous ID moves to the customer now seen, and that
/// customer's email or phone stay where they are.
pub fn resolve(seen: &[Identifier], known: &[Known], new_profile_id: &str) -> Plan {
    let profile_of: BTreeMap<&Identifier, &Known> =
        known.iter().map(|k| (&k.identifier, k)).collect();
    let mut created: BTreeMap<&str, i64> = BTreeMap::new();
    let mut customer: BTreeMap<&str, &str> = BTreeMap::new();
    for k in known {
        created.insert(&k.profile_id, k.profile_created_ms);
        if k.identifier.kind == IdKind::User {
            customer.insert(&k.profile_id, &k.identifier.value);
        }
    }
    let involved: BTreeSet<&str> = seen
        .iter()
        .filter_map(|id| profile_of.get(id))
        .map(|k| k.profile_id.as_str())
        .collect();
    let seen_customer = seen
        .iter()
        .find(|id| id.kind == IdKind::User)
        .map(|id| id.value.as_str());
    // The customer this sighting is about: the one seen, else that of the oldest involved profile.
    let oldest_first = |a: &&str, b: &&str| created[a].cmp(&created[b]).then(a.cmp(b));
    let mut by_age: Vec<&str> = involved.iter().copied().collect();
    by_age.sort_by(oldest_first);
    let anchor = seen_customer.or_else(|| by_age.iter().find_map(|p| customer.get(p).copied()));
    let compatible: Vec<&str> = by_age
        .iter()
        .copied()
        .filter(|p| customer.get(p).is_none_or(|c| Some(*c) == anchor))
        .collect();
    let survivor = compatible
        .iter()
        .find(|p| anchor.is_some() && customer.get(*p).copied() == anchor)
        .or(compatible.first())
        .copied();

    let (profile_id, create_profile) = match survivor {
        Some(p) => (p.to_string(), false),
        None => (new_profile_id.to_string(), true),
    };
    let merge_from: Vec<String> = compatible
        .iter()
        .filter(|p| **p != profile_id)
        .map(|p| p.to_string())
        .collect();
    let link = seen
        .iter()
        .filter(|id| match profile_of.get(id) {
            None => true,
            Some(k) if k.profile_id == profile_id || merge_from.contains(&k.profile_id) => false,
            // Known in a profile of another customer: only the device moves.
            Some(_) => id.kind == IdKind::Anonymous,
        })
        .cloned()
        .collect();
    Plan {
        profile_id,
        create_profile,
        link,
        merge_from,
    }
}

/// Applies a plan to an in-memory view of `known`, so that several sightings of one request can
/// be resolved one after the other.
pub fn apply(known: &mut Vec<Known>, plan: &Plan, created_ms: i64) {
    let survivor_created = known
        .iter()
        .find(|k| k.profile_id == plan.profile_id)
        .map_or(created_ms, |k| k.profile_created_ms);
    for k in known.iter_mut() {
        if plan.merge_from.contains(&k.profile_id) || plan.link.contains(&k.identifier) {
            k.profile_id = plan.profile_id.clone();
            k.profile_created_ms = survivor_created;
        }
    }
    for id in &plan.link {
        if !known.iter().any(|k| &k.identifier == id) {
            known.push(Known {
                identifier: id.clone(),
                profile_id: plan.profile_id.clone(),
                profile_created_ms: survivor_created,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: IdKind, v: &str) -> Identifier {
        Identifier::new(kind, v).unwrap()
    }
    fn known(kind: IdKind, v: &str, profile: &str, created: i64) -> Known {
        Known {
            identifier: id(kind, v),
            profile_id: profile.into(),
            profile_created_ms: created,
        }
    }
    use IdKind::*;

    #[test]
    fn normalises_emails_and_phones() {
        assert_eq!(id(Email, "  Ana@Shop.Example ").value, "ana@shop.example");
        assert_eq!(Identifier::new(Email, "not-an-email"), None);
        assert_eq!(Identifier::new(Email, "a b@x.io"), None);
        assert_eq!(id(Phone, "+380 (44) 123-45-67").value, "+380441234567");
        assert_eq!(Identifier::new(Phone, "12-34"), None);
        assert_eq!(Identifier::new(User, "   "), None);
    }

    #[test]
    fn own_profile_ids_are_stable_distinct_and_opaque() {
        let a = id(Email, "ana@x.io").own_profile_id();
        assert_eq!(
            a,
            id(Email, " ANA@x.io ").own_profile_id(),
            "normalised first"
        );
        assert_ne!(
            a,
            id(User, "ana@x.io").own_profile_id(),
            "the kind is part of it"
        );
        assert!(!a.contains("ana") && a.len() == 26 && a.starts_with("p-"));
    }

    #[test]
    fn a_new_visitor_gets_a_new_profile() {
        let plan = resolve(&[id(Anonymous, "a1")], &[], "p-new");
        assert_eq!(
            plan,
            Plan {
                profile_id: "p-new".into(),
                create_profile: true,
                link: vec![id(Anonymous, "a1")],
                merge_from: vec![]
            }
        );
    }

    #[test]
    fn identify_attaches_the_customer_to_the_device_profile() {
        let plan = resolve(
            &[id(Anonymous, "a1"), id(User, "u1"), id(Email, "u1@x.io")],
            &[known(Anonymous, "a1", "p1", 10)],
            "p-new",
        );
        assert_eq!(plan.profile_id, "p1");
        assert!(!plan.create_profile && plan.merge_from.is_empty());
        assert_eq!(plan.link, vec![id(User, "u1"), id(Email, "u1@x.io")]);
    }

    #[test]
    fn a_second_device_of_a_known_customer_merges_into_the_older_profile() {
        let known = [
            known(Anonymous, "phone", "p2", 20),
            known(User, "u1", "p1", 10),
            known(Anonymous, "laptop", "p1", 10),
        ];
        let plan = resolve(&[id(Anonymous, "phone"), id(User, "u1")], &known, "p-new");
        assert_eq!(plan.profile_id, "p1");
        assert_eq!(plan.merge_from, vec!["p2".to_string()]);
        assert!(
            plan.link.is_empty(),
            "both identifiers end up in p1 through the merge"
        );
    }

    #[test]
    fn two_customers_on_one_device_are_never_merged() {
        // The shared laptop belongs to u1's profile; u2 logs in on it.
        let known = [
            known(Anonymous, "laptop", "p1", 10),
            known(User, "u1", "p1", 10),
            known(User, "u2", "p2", 20),
        ];
        let plan = resolve(&[id(Anonymous, "laptop"), id(User, "u2")], &known, "p-new");
        assert_eq!(plan.profile_id, "p2");
        assert!(plan.merge_from.is_empty(), "p1 keeps u1");
        assert_eq!(
            plan.link,
            vec![id(Anonymous, "laptop")],
            "the device moves to u2"
        );

        // A customer never seen before on u1's device gets a profile of their own.
        let plan = resolve(
            &[id(Anonymous, "laptop"), id(User, "u3")],
            &known[..2],
            "p-new",
        );
        assert_eq!(
            (plan.profile_id.as_str(), plan.create_profile),
            ("p-new", true)
        );
        assert_eq!(plan.link, vec![id(Anonymous, "laptop"), id(User, "u3")]);
    }

    #[test]
    fn an_email_seen_with_a_device_joins_the_customer_who_owns_it() {
        let known = [
            known(Email, "u1@x.io", "p1", 10),
            known(User, "u1", "p1", 10),
            known(Anonymous, "tablet", "p3", 30),
        ];
        let plan = resolve(
            &[id(Anonymous, "tablet"), id(Email, "u1@x.io")],
            &known,
            "p-new",
        );
        assert_eq!(plan.profile_id, "p1");
        assert_eq!(plan.merge_from, vec!["p3".to_string()]);
    }

    #[test]
    fn apply_lets_later_sightings_see_earlier_ones() {
        let mut graph = vec![];
        let first = resolve(&[id(Anonymous, "a1")], &graph, "p1");
        apply(&mut graph, &first, 5);
        let second = resolve(&[id(Anonymous, "a1"), id(User, "u1")], &graph, "p2");
        assert_eq!(second.profile_id, "p1");
        apply(&mut graph, &second, 6);
        let third = resolve(&[id(Anonymous, "a1"), id(User, "u1")], &graph, "p3");
        assert!(third.is_noop());
    }
}
