//! The A/B report of one test: per variant, impressions, clicks, submits and purchases
//! attributed to the variant, with conversion rates, 95 % Wilson score intervals, and the
//! difference to the baseline variant with a normal-approximation (Wald) interval.
//!
//! Definitions (per variant):
//! - **visitors**: distinct profiles with any event of the variant (impression, click, submit);
//! - **converters**: visitors with at least one attributed purchase;
//! - a purchase (`Order Completed`) is **attributed** to the variant of the profile's latest click
//!   or submit in the [`ATTRIBUTION_WINDOW_MS`] (7 days) before it (last touch; each order
//!   counts once, for one variant at most);
//! - **conversion rate** = converters / visitors; **click rate** = visitors who clicked or
//!   submitted / visitors.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

/// How long after a click or submit a purchase is credited to the variant: 7 days.
pub const ATTRIBUTION_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;
/// The normal quantile for two-sided 95 % intervals.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// What a visitor did with a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The widget was shown or the block was seen.
    Impression,
    /// A recommendation card (or a widget's link) was clicked.
    Click,
    /// A widget's form was submitted.
    Submit,
}

/// One event of the test.
#[derive(Debug, Clone)]
pub struct VariantEvent {
    /// The profile (after merges) that did it.
    pub profile: String,
    /// The variant shown.
    pub variant: String,
    /// What happened.
    pub action: Action,
    /// When (ms since the epoch).
    pub time_ms: i64,
}

/// One order of a profile that touched the test.
#[derive(Debug, Clone)]
pub struct Purchase {
    /// The profile (after merges) that ordered.
    pub profile: String,
    /// When (ms since the epoch).
    pub time_ms: i64,
}

/// A proportion with its two-sided 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// One variant's row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantReport {
    /// The variant's name.
    pub variant: String,
    /// Impression events.
    pub impressions: u64,
    /// Click events.
    pub clicks: u64,
    /// Submit events.
    pub submits: u64,
    /// Distinct profiles with any event of the variant.
    pub visitors: u64,
    /// Orders attributed to the variant.
    pub purchases: u64,
    /// Visitors with at least one attributed order.
    pub converters: u64,
    /// Visitors who clicked or submitted, over visitors (Wilson interval).
    pub click_rate: Option<Estimate>,
    /// Converters over visitors (Wilson interval).
    pub conversion_rate: Option<Estimate>,
    /// Conversion rate minus the baseline's (Wald interval); `None` for the baseline itself.
    pub difference_vs_baseline: Option<Estimate>,
}

/// The whole report; variants in the order given, then any others by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The baseline variant (the first one), if there is any data.
    pub baseline: Option<String>,
    /// One row per variant.
    pub variants: Vec<VariantReport>,
}

/// Wilson score interval for `successes` of `n` (Wilson 1927); `None` when `n` is 0.
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<Estimate> {
    if n == 0 {
        return None;
    }
    let (n, p) = (n as f64, successes as f64 / n as f64);
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Estimate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// Difference `x1/n1 − x0/n0` of two independent proportions with the normal-approximation
/// (Wald) interval; `None` when either `n` is 0.
pub fn difference(x1: u64, n1: u64, x0: u64, n0: u64, z: f64) -> Option<Estimate> {
    if n0 == 0 || n1 == 0 {
        return None;
    }
    let (p1, p0) = (x1 as f64 / n1 as f64, x0 as f64 / n0 as f64);
    let se = (p1 * (1.0 - p1) / n1 as f64 + p0 * (1.0 - p0) / n0 as f64).sqrt();
    let value = p1 - p0;
    Some(Estimate {
        value,
        low: value - z * se,
        high: value + z * se,
    })
}

#[derive(Default)]
struct Tally {
    impressions: u64,
    clicks: u64,
    submits: u64,
    visitors: BTreeSet<String>,
    actors: BTreeSet<String>,
    converters: BTreeSet<String>,
    purchases: u64,
}

/// Counts the report. `order` names variants in their configured order (the first is the
/// baseline); variants not named follow, sorted by name.
pub fn report(events: &[VariantEvent], purchases: &[Purchase], order: &[&str]) -> Report {
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    // Each profile's clicks and submits, by time, for attribution.
    let mut touches: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
    for e in events {
        let tally = tallies.entry(&e.variant).or_default();
        tally.visitors.insert(e.profile.clone());
        match e.action {
            Action::Impression => tally.impressions += 1,
            Action::Click | Action::Submit => {
                if e.action == Action::Click {
                    tally.clicks += 1;
                } else {
                    tally.submits += 1;
                }
                tally.actors.insert(e.profile.clone());
                touches
                    .entry(&e.profile)
                    .or_default()
                    .push((e.time_ms, &e.variant));
            }
        }
    }
    for list in touches.values_mut() {
        list.sort();
    }
    for order in purchases {
        let Some(list) = touches.get(order.profile.as_str()) else {
            continue;
        };
        // The latest touch at or before the order, within the window.
        let last = list
            .iter()
            .rev()
            .find(|(t, _)| *t <= order.time_ms)
            .filter(|(t, _)| order.time_ms - *t <= ATTRIBUTION_WINDOW_MS);
        if let Some((_, variant)) = last {
            let tally = tallies
                .get_mut(variant)
                .expect("touched variants are tallied");
            tally.purchases += 1;
            tally.converters.insert(order.profile.clone());
        }
    }

    let mut names: Vec<&str> = order
        .iter()
        .copied()
        .filter(|v| tallies.contains_key(v))
        .collect();
    names.extend(tallies.keys().copied().filter(|v| !order.contains(v)));
    let baseline = names.first().map(|b| {
        let t = &tallies[b];
        (t.converters.len() as u64, t.visitors.len() as u64)
    });
    let variants = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let t = &tallies[name];
            let (visitors, converters) = (t.visitors.len() as u64, t.converters.len() as u64);
            VariantReport {
                variant: name.to_string(),
                impressions: t.impressions,
                clicks: t.clicks,
                submits: t.submits,
                visitors,
                purchases: t.purchases,
                converters,
                click_rate: wilson(t.actors.len() as u64, visitors, Z_95),
                conversion_rate: wilson(converters, visitors, Z_95),
                difference_vs_baseline: match (i, baseline) {
                    (0, _) | (_, None) => None,
                    (_, Some((x0, n0))) => difference(converters, visitors, x0, n0, Z_95),
                },
            }
        })
        .collect();
    Report {
        baseline: names.first().map(|b| b.to_string()),
        variants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    fn assert_estimate(e: Estimate, value: f64, low: f64, high: f64) {
        assert!(
            close(e.value, value) && close(e.low, low) && close(e.high, high),
            "{e:?} vs {value} [{low}, {high}]"
        );
    }

    /// Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison
    /// of seven methods", Statistics in Medicine 17:857-872, method 3 (Wilson score
    /// without continuity correction), rounded to 4 places there.
    #[test]
    fn wilson_matches_newcombes_worked_examples() {
        let z = 1.96;
        assert_estimate(wilson(81, 263, z).unwrap(), 81.0 / 263.0, 0.2553, 0.3662);
        assert_estimate(wilson(15, 148, z).unwrap(), 15.0 / 148.0, 0.0624, 0.1605);
        assert_estimate(wilson(0, 20, z).unwrap(), 0.0, 0.0, 0.1611);
        assert_estimate(wilson(1, 29, z).unwrap(), 1.0 / 29.0, 0.0061, 0.1718);
        assert_eq!(wilson(0, 0, z), None);
    }

    /// Newcombe (1998), "Interval estimation for the difference between independent
    /// proportions", Statistics in Medicine 17:873-890, the worked example 56/70 − 48/80, method 1
    /// (the simple asymptotic interval): 0.0575 to 0.3425.
    #[test]
    fn difference_matches_newcombes_wald_example() {
        assert_estimate(
            difference(56, 70, 48, 80, 1.96).unwrap(),
            0.2,
            0.0575,
            0.3425,
        );
        assert_eq!(difference(1, 0, 1, 2, 1.96), None);
    }

    fn ev(profile: &str, variant: &str, action: Action, time_ms: i64) -> VariantEvent {
        VariantEvent {
            profile: profile.into(),
            variant: variant.into(),
            action,
            time_ms,
        }
    }

    fn buy(profile: &str, time_ms: i64) -> Purchase {
        Purchase {
            profile: profile.into(),
            time_ms,
        }
    }

    const DAY: i64 = 24 * 3600 * 1000;

    #[test]
    fn counts_and_attributes_by_hand() {
        use Action::*;
        let events = vec![
            // Variant A: 4 visitors; p1 and p2 click, p3 submits.
            ev("p1", "A", Impression, 0),
            ev("p1", "A", Impression, 10),
            ev("p1", "A", Click, 20),
            ev("p2", "A", Impression, 0),
            ev("p2", "A", Click, 30),
            ev("p3", "A", Impression, 0),
            ev("p3", "A", Submit, 40),
            ev("p4", "A", Impression, 0),
            // Variant B: 2 visitors; q1 clicks.
            ev("q1", "B", Impression, 0),
            ev("q1", "B", Click, 5),
            ev("q2", "B", Impression, 0),
        ];
        let purchases = vec![
            buy("p1", 20 + DAY),         // attributed to A
            buy("p1", 20 + 2 * DAY),     // A again: 2 purchases, 1 converter
            buy("p2", 30 + 7 * DAY + 1), // a millisecond too late
            buy("p3", 39),               // before the submit: not caused by it
            buy("p4", 100),              // never clicked
            buy("q1", 5 + 7 * DAY),      // exactly 7 days: attributed to B
            buy("zz", 100),              // not in the test
        ];
        let r = report(&events, &purchases, &["A", "B"]);
        assert_eq!(r.baseline.as_deref(), Some("A"));
        let a = &r.variants[0];
        assert_eq!(
            (
                a.impressions,
                a.clicks,
                a.submits,
                a.visitors,
                a.purchases,
                a.converters
            ),
            (5, 2, 1, 4, 2, 1)
        );
        // 1 of 4 converted; 3 of 4 clicked or submitted.
        assert_eq!(a.conversion_rate, wilson(1, 4, Z_95));
        assert_eq!(a.click_rate.unwrap().value, 0.75);
        assert_eq!(a.difference_vs_baseline, None);
        let b = &r.variants[1];
        assert_eq!(
            (
                b.impressions,
                b.clicks,
                b.submits,
                b.visitors,
                b.purchases,
                b.converters
            ),
            (2, 1, 0, 2, 1, 1)
        );
        // 1/2 − 1/4 = 0.25; se = sqrt(.5·.5/2 + .25·.75/4) = sqrt(0.171875) = 0.414578.
        let d = b.difference_vs_baseline.unwrap();
        assert!(close(d.value, 0.25));
        assert!(close(d.high - d.value, Z_95 * 0.171875f64.sqrt()));
    }

    #[test]
    fn last_touch_wins_and_order_puts_the_baseline_first() {
        use Action::*;
        let events = vec![
            ev("p", "control", Click, 0),
            ev("p", "bold", Click, DAY),
            ev("x", "zeta", Impression, 0),
        ];
        let r = report(
            &events,
            &[buy("p", 2 * DAY)],
            &["control", "bold", "missing"],
        );
        let names: Vec<&str> = r.variants.iter().map(|v| v.variant.as_str()).collect();
        assert_eq!(names, ["control", "bold", "zeta"]);
        assert_eq!(r.variants[0].purchases, 0);
        assert_eq!(r.variants[1].purchases, 1, "the later click gets the order");
        assert_eq!(r.variants[2].conversion_rate.unwrap().value, 0.0);
        assert!(report(&[], &[], &["A"]).variants.is_empty());
    }
}
