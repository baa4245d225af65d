//! The co-occurrence model ([`super::cooccurrence`]) kept up to date visitor by visitor instead
//! of being refitted: it is a sum over visitors, so a visitor whose products changed is
//! subtracted with their old products and added with their new ones.
//!
//! With f_v = (history length)^-damping and w_vi the visitor's weight for product i:
//! together(i, j) = Σ_v w_vi·w_vj·f_v, the norm n_i = Σ_v w_vi²·f_v, and
//! similarity(i → j) = together(i, j) / (n_i^alpha · n_j^(1 − alpha)). [`Sums`] holds the
//! pair sums and norms (in f64, each with the number of visitors behind it, so a sum every
//! visitor has left is removed exactly rather than left as a rounding residue) and computes
//! rows from them. Rows are ordered by similarity (compared to 9 decimals, so two paths to the
//! same sums order a tie the same way), then by the caller's product order, and rounded to 4
//! decimals as they are stored.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// Settings of the model (as [`super::cooccurrence::Cooccurrence`]'s, in f64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Neighbours kept per product.
    pub neighbours: usize,
    /// Normalisation exponent (0.5: cosine).
    pub alpha: f64,
    /// Each visitor counts (history length)^-damping.
    pub damping: f64,
}

/// A sum of visitor contributions and how many visitors contributed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sum {
    /// The summed contributions.
    pub value: f64,
    /// Visitors contributing (the sum is removed when this reaches 0).
    pub visitors: i64,
}

/// A visitor's products with their weights: one entry per product, sorted by product.
pub type VisitorSet = [(u32, f32)];

/// Pair sums and norms of one relation, and which of them changed since [`Sums::take_changes`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sums {
    /// together(a, b), keyed with a < b.
    pub pairs: HashMap<(u32, u32), Sum>,
    /// n_p per product.
    pub norms: HashMap<u32, Sum>,
    changed_pairs: HashSet<(u32, u32)>,
    changed_norms: HashSet<u32>,
}

/// What changed in a [`Sums`]: pairs and products whose sums were touched by a visitor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Pairs (a < b) whose sum changed or vanished.
    pub pairs: Vec<(u32, u32)>,
    /// Products whose norm changed or vanished.
    pub norms: Vec<u32>,
}

/// A visitor's factor: (history length)^-damping.
pub fn visitor_factor(len: usize, damping: f64) -> f64 {
    (len.max(1) as f64).powf(-damping)
}

/// The similarity rounded as rows are stored (4 decimals).
pub fn stored_weight(similarity: f64) -> f32 {
    ((similarity * 1e4).round() / 1e4) as f32
}

fn add_to(sum: &mut Sum, value: f64, sign: i64) {
    sum.value += sign as f64 * value;
    sum.visitors += sign;
}

impl Sums {
    /// Sums of the given values (e.g. read back from storage); nothing marked changed.
    pub fn from_parts(
        pairs: impl IntoIterator<Item = ((u32, u32), Sum)>,
        norms: impl IntoIterator<Item = (u32, Sum)>,
    ) -> Sums {
        Sums {
            pairs: pairs
                .into_iter()
                .map(|((a, b), s)| ((a.min(b), a.max(b)), s))
                .collect(),
            norms: norms.into_iter().collect(),
            ..Default::default()
        }
    }

    /// Adds stored pair sums not held yet (sums already held, perhaps updated, are kept).
    pub fn load_pairs(&mut self, pairs: impl IntoIterator<Item = ((u32, u32), Sum)>) {
        for ((a, b), sum) in pairs {
            self.pairs.entry((a.min(b), a.max(b))).or_insert(sum);
        }
    }

    /// Adds (`sign` 1) or subtracts (`sign` −1) one visitor's contribution.
    pub fn add(&mut self, set: &VisitorSet, sign: i64, settings: &Settings) {
        if set.is_empty() {
            return;
        }
        let f = visitor_factor(set.len(), settings.damping);
        for (k, &(i, wi)) in set.iter().enumerate() {
            let wi = wi as f64;
            self.touch_norm(i, wi * wi * f, sign);
            for &(j, wj) in &set[k + 1..] {
                self.touch_pair((i.min(j), i.max(j)), wi * wj as f64 * f, sign);
            }
        }
    }

    /// Replaces a visitor's old products by their new ones; false (and nothing touched) when
    /// they are the same.
    pub fn replace(&mut self, old: &VisitorSet, new: &VisitorSet, settings: &Settings) -> bool {
        if old == new {
            return false;
        }
        self.add(old, -1, settings);
        self.add(new, 1, settings);
        true
    }

    fn touch_norm(&mut self, p: u32, value: f64, sign: i64) {
        let sum = self.norms.entry(p).or_default();
        add_to(sum, value, sign);
        if sum.visitors <= 0 {
            self.norms.remove(&p);
        }
        self.changed_norms.insert(p);
    }

    fn touch_pair(&mut self, key: (u32, u32), value: f64, sign: i64) {
        let sum = self.pairs.entry(key).or_default();
        add_to(sum, value, sign);
        if sum.visitors <= 0 {
            self.pairs.remove(&key);
        }
        self.changed_pairs.insert(key);
    }

    /// The pairs and norms touched since the last call (sorted), and forgets them.
    pub fn take_changes(&mut self) -> Changes {
        let mut pairs: Vec<(u32, u32)> = self.changed_pairs.drain().collect();
        let mut norms: Vec<u32> = self.changed_norms.drain().collect();
        pairs.sort_unstable();
        norms.sort_unstable();
        Changes { pairs, norms }
    }

    /// The products whose rows can change when the sums of `changed` change: those products
    /// themselves (their norms and pair sums) and every product paired with one of them (its
    /// similarity to that product depends on the product's norm).
    pub fn affected(&self, changed: &Changes) -> HashSet<u32> {
        let mut out: HashSet<u32> = changed.norms.iter().copied().collect();
        for &(a, b) in &changed.pairs {
            out.insert(a);
            out.insert(b);
        }
        let sources = out.clone();
        for &(a, b) in self.pairs.keys() {
            if sources.contains(&a) {
                out.insert(b);
            }
            if sources.contains(&b) {
                out.insert(a);
            }
        }
        out
    }

    /// The similarity i → j of a pair sum.
    pub fn similarity(&self, together: f64, i: u32, j: u32, settings: &Settings) -> f64 {
        let norm = |p: u32| self.norms.get(&p).map_or(0.0, |s| s.value);
        together / (norm(i).powf(settings.alpha) * norm(j).powf(1.0 - settings.alpha))
    }

    /// The rows (product, its neighbours with stored weights, strongest first) of the products
    /// `wanted` says yes to, in product order; products without a neighbour have no row.
    /// `order` breaks ties of similarity (e.g. by product ID).
    pub fn rows(
        &self,
        wanted: impl Fn(u32) -> bool,
        settings: &Settings,
        order: impl Fn(u32, u32) -> Ordering,
    ) -> Vec<(u32, Vec<(u32, f32)>)> {
        let mut lists: HashMap<u32, Vec<(u32, f64)>> = HashMap::new();
        for (&(a, b), sum) in &self.pairs {
            if sum.value <= 0.0 {
                continue;
            }
            if wanted(a) {
                lists.entry(a).or_default().push((b, sum.value));
            }
            if wanted(b) {
                lists.entry(b).or_default().push((a, sum.value));
            }
        }
        let mut out: Vec<(u32, Vec<(u32, f32)>)> = lists
            .into_iter()
            .map(|(i, list)| {
                let mut scored: Vec<(u32, f64, f64)> = list
                    .into_iter()
                    .map(|(j, t)| {
                        let s = self.similarity(t, i, j, settings);
                        (j, s, (s * 1e9).round())
                    })
                    .filter(|e| e.1 > 0.0 && e.1.is_finite())
                    .collect();
                let stronger = |x: &(u32, f64, f64), y: &(u32, f64, f64)| {
                    y.2.total_cmp(&x.2).then_with(|| order(x.0, y.0))
                };
                let keep = settings.neighbours;
                if scored.len() > keep && keep > 0 {
                    scored.select_nth_unstable_by(keep - 1, stronger);
                }
                scored.truncate(keep);
                scored.sort_unstable_by(stronger);
                let row = scored
                    .into_iter()
                    .map(|(j, s, _)| (j, stored_weight(s)))
                    .collect();
                (i, row)
            })
            .collect();
        out.retain(|(_, row)| !row.is_empty());
        out.sort_unstable_by_key(|r| r.0);
        out
    }
}

/// A visitor's set from (product, weight) interactions: each product once with its strongest
/// weight, sorted by product.
pub fn visitor_set(interactions: impl IntoIterator<Item = (u32, f32)>) -> Vec<(u32, f32)> {
    let mut set: Vec<(u32, f32)> = interactions.into_iter().collect();
    set.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    set.dedup_by_key(|e| e.0);
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cooccurrence::Cooccurrence;
    use crate::models::Histories;
    use crate::synthetic::Rng;

    fn by_number(a: u32, b: u32) -> Ordering {
        a.cmp(&b)
    }

    const SETTINGS: Settings = Settings {
        neighbours: 5,
        alpha: 0.5,
        damping: 0.5,
    };

    fn from_scratch(sets: &[Vec<(u32, f32)>], settings: &Settings) -> Sums {
        let mut sums = Sums::default();
        for set in sets {
            sums.add(set, 1, settings);
        }
        sums
    }

    /// One visitor's interactions: (product, weight, time).
    type Log = Vec<(u32, f32, i64)>;

    /// What a visitor's log counts at `now` with a window of `window`.
    fn set_at(log: &Log, now: i64, window: i64) -> Vec<(u32, f32)> {
        visitor_set(
            log.iter()
                .filter(|e| e.2 > now - window && e.2 <= now)
                .map(|e| (e.0, e.1)),
        )
    }

    #[test]
    fn visitor_by_visitor_equals_a_fit_on_the_final_histories() {
        let (products, visitors, window) = (40u32, 60usize, 50i64);
        let mut rng = Rng::new(7);
        let mut logs: Vec<Log> = vec![Vec::new(); visitors];
        let mut sums = Sums::default();
        let mut now = 0i64;
        let mut replaced = 0;
        let mut left_window = 0;
        // 8 refreshes, 20 time units apart: new interactions arrive, old ones leave the window.
        for _ in 0..8 {
            let before = now;
            now += 20;
            for _ in 0..60 {
                let v = rng.below(visitors);
                let weight = [1.0, 1.0, 1.0, 3.0, 10.0][rng.below(5)];
                let time = before + 1 + rng.below(20) as i64;
                logs[v].push((rng.below(products as usize) as u32, weight, time));
            }
            for log in &logs {
                let (old, new) = (set_at(log, before, window), set_at(log, now, window));
                let leaving = log
                    .iter()
                    .any(|e| e.2 > before - window && e.2 <= now - window);
                if sums.replace(&old, &new, &SETTINGS) {
                    replaced += 1;
                    left_window += leaving as usize;
                }
            }
        }
        assert!(
            replaced > 100 && left_window > 20,
            "{replaced} {left_window}"
        );
        let finals: Vec<Vec<(u32, f32)>> = logs.iter().map(|l| set_at(l, now, window)).collect();
        assert!(finals.iter().any(|s| s.is_empty()) && finals.iter().any(|s| s.len() > 3));

        // The same sums as adding every final history once.
        let scratch = from_scratch(&finals, &SETTINGS);
        assert_eq!(sums.pairs.len(), scratch.pairs.len());
        assert_eq!(sums.norms.len(), scratch.norms.len());
        for (k, s) in &scratch.pairs {
            let got = sums.pairs[k];
            assert_eq!(got.visitors, s.visitors);
            assert!(
                (got.value - s.value).abs() < 1e-9,
                "{k:?}: {got:?} vs {s:?}"
            );
        }
        let all = |_| true;
        let rows = sums.rows(all, &SETTINGS, by_number);
        assert_eq!(rows, scratch.rows(all, &SETTINGS, by_number));

        // The same rows as the model fitted on the final histories (f32): the same neighbours
        // in the same order, with the same stored weight unless the exact similarity lies
        // within f32 rounding of a 4-decimal boundary.
        let triples: Vec<(u32, u32, f32)> = finals
            .iter()
            .enumerate()
            .flat_map(|(v, set)| set.iter().map(move |&(p, w)| (v as u32, p, w)))
            .collect();
        // Every neighbour kept, so ties at the cut cannot differ.
        let every = Settings {
            neighbours: usize::MAX,
            ..SETTINGS
        };
        let fit = Cooccurrence {
            neighbours: usize::MAX,
            alpha: SETTINGS.alpha as f32,
            damping: SETTINGS.damping as f32,
        }
        .fit(&Histories::from_weighted(&triples, products as usize));
        let rows = sums.rows(all, &every, by_number);
        let mut compared = 0;
        for (i, row) in &rows {
            let want: HashMap<u32, f32> = fit.neighbours[*i as usize].iter().copied().collect();
            assert_eq!(row.len(), want.len(), "row {i}");
            assert!(row.windows(2).all(|w| w[0].1 >= w[1].1), "row {i}: {row:?}");
            for (j, w) in row {
                let fw = want[j];
                let near_boundary = ((fw as f64 * 1e4).fract().abs() - 0.5).abs() < 1e-2;
                if !near_boundary {
                    assert_eq!(*w, stored_weight(fw as f64), "row {i} → {j}");
                    compared += 1;
                }
            }
        }
        let fitted_rows = fit.neighbours.iter().filter(|r| !r.is_empty()).count();
        assert_eq!(rows.len(), fitted_rows);
        assert!(compared > 200, "{compared}");
    }

    #[test]
    fn changes_and_affected_products() {
        // Visitor 0: {0, 1}; visitor 1: {1, 2}; visitor 2: {3, 4}. Visitor 0 adds product 5.
        let sets = [
            vec![(0, 1.0), (1, 1.0)],
            vec![(1, 1.0), (2, 3.0)],
            vec![(3, 1.0), (4, 1.0)],
        ];
        let mut sums = from_scratch(&sets, &SETTINGS);
        sums.take_changes();
        assert!(!sums.replace(&sets[0], &sets[0], &SETTINGS));
        assert_eq!(sums.take_changes(), Changes::default());
        assert!(sums.replace(&sets[0], &[(0, 1.0), (1, 1.0), (5, 1.0)], &SETTINGS));
        let changes = sums.take_changes();
        assert_eq!(changes.pairs, vec![(0, 1), (0, 5), (1, 5)]);
        assert_eq!(changes.norms, vec![0, 1, 5]);
        // 2 is paired with 1, whose norm changed; 3 and 4 are untouched.
        let mut affected: Vec<u32> = sums.affected(&changes).into_iter().collect();
        affected.sort_unstable();
        assert_eq!(affected, vec![0, 1, 2, 5]);
        // Visitor 2 leaves: their pair and norms are removed, not left at zero.
        assert!(sums.replace(&sets[2], &[], &SETTINGS));
        assert!(!sums.pairs.contains_key(&(3, 4)) && !sums.norms.contains_key(&3));
        assert_eq!(sums.take_changes().norms, vec![3, 4]);
    }

    #[test]
    fn rows_by_hand_with_ties_in_the_callers_order() {
        // One visitor chose {0, 1, 2} (factor 3^-0.5): every pair and norm is 3^-0.5, so
        // every similarity is 1. Ties follow `order`: reversed product numbers here.
        let sums = from_scratch(&[vec![(0, 1.0), (1, 1.0), (2, 1.0)]], &SETTINGS);
        let rows = sums.rows(|p| p == 0, &SETTINGS, |a, b| b.cmp(&a));
        assert_eq!(rows, vec![(0, vec![(2, 1.0), (1, 1.0)])]);
        let one = Settings {
            neighbours: 1,
            ..SETTINGS
        };
        assert_eq!(
            sums.rows(|p| p == 0, &one, by_number),
            vec![(0, vec![(1, 1.0)])]
        );
        // Bought 1 (10), viewed 0 and 2: 0 → 1 = 10/sqrt(1·100) = 1; 0 → 2 = 1.
        // A second visitor viewed 0 and 2 only (factor 2^-0.5): together(0,2) = 3^-0.5 + 2^-0.5,
        // n0 = n2 = the same, n1 = 100·3^-0.5 → 0 → 2 = 1, 0 → 1 = 3^-0.5·10 / sqrt(n0·n1).
        let sums = from_scratch(
            &[
                vec![(0, 1.0), (1, 10.0), (2, 1.0)],
                vec![(0, 1.0), (2, 1.0)],
            ],
            &SETTINGS,
        );
        let (a, b) = (3f64.powf(-0.5), 2f64.powf(-0.5));
        let expected = a * 10.0 / ((a + b) * 100.0 * a).sqrt();
        let rows = sums.rows(|p| p == 0, &SETTINGS, by_number);
        assert_eq!(
            rows,
            vec![(0, vec![(2, 1.0), (1, stored_weight(expected))])]
        );
        assert_eq!(stored_weight(expected), 0.6704);
    }
}
