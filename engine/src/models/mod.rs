//! Learned recommenders over visitor histories: popularity, item-to-item co-occurrence and EASE.
//!
//! Every model works on [`Histories`] (what each visitor did, with products and visitors
//! numbered densely from 0, each interaction weighted by how strongly it signals intent) and
//! scores products for one visitor from that visitor's own history. The item-to-item models
//! compile into a [`NeighbourTable`]: for each product, its top-N related products with a
//! weight. That table is what the collector can store and serve: a visitor's (or a guest
//! session's) recent products are looked up in it and their neighbours summed, and the
//! neighbour that contributed most becomes the item's [`Reason`].

pub mod cooccurrence;
pub mod cooccurrence_delta;
#[cfg(feature = "dense")]
pub mod ease;
pub mod popularity;

use serde::{Deserialize, Serialize};

use crate::recommend::InteractionKind;

/// What each visitor did: `visitors[v]` lists (product, weight) pairs, one per product.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histories {
    /// Per visitor, its products with their weights, sorted by product number.
    pub visitors: Vec<Vec<(u32, f32)>>,
    /// How many products are numbered (the largest product number + 1, or more).
    pub products: usize,
}

impl Histories {
    /// Histories where every interaction weighs 1 (e.g. ratings treated as implicit positives).
    /// Repeated (visitor, product) pairs count once.
    pub fn from_pairs(pairs: &[crate::eval::Pair], products: usize) -> Self {
        let weighted: Vec<(u32, u32, f32)> = pairs.iter().map(|p| (p.user, p.item, 1.0)).collect();
        Self::from_weighted(&weighted, products)
    }

    /// Histories from shop events: each (visitor, product) pair weighs as its strongest event
    /// (a product viewed and bought weighs as a purchase), so view < cart < purchase.
    pub fn from_events(events: &[(u32, u32, InteractionKind)], products: usize) -> Self {
        let weighted: Vec<(u32, u32, f32)> = events
            .iter()
            .map(|&(v, p, kind)| (v, p, kind.weight() as f32))
            .collect();
        Self::from_weighted(&weighted, products)
    }

    /// Histories from (visitor, product, weight) triples; a repeated pair keeps its largest weight.
    pub fn from_weighted(triples: &[(u32, u32, f32)], products: usize) -> Self {
        let visitors = triples.iter().map(|t| t.0 as usize + 1).max().unwrap_or(0);
        let products = products.max(triples.iter().map(|t| t.1 as usize + 1).max().unwrap_or(0));
        let mut out = vec![Vec::new(); visitors];
        for &(v, p, w) in triples {
            out[v as usize].push((p, w));
        }
        for list in &mut out {
            list.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
            list.dedup_by_key(|e| e.0);
        }
        Histories {
            visitors: out,
            products,
        }
    }

    /// For each product, the visitors who interacted with it and their weights.
    pub fn by_product(&self) -> Vec<Vec<(u32, f32)>> {
        let mut out = vec![Vec::new(); self.products];
        for (v, list) in self.visitors.iter().enumerate() {
            for &(p, w) in list {
                out[p as usize].push((v as u32, w));
            }
        }
        out
    }
}

/// Why a product was recommended, in terms the caller turns into words with product names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// Chosen by many visitors.
    Popular,
    /// Related to this product of the visitor's history (the one that contributed most).
    RelatedTo(u32),
}

impl Reason {
    /// The reason in a merchant's words, e.g. "often chosen together with Linen Apron".
    pub fn describe(&self, product_name: impl Fn(u32) -> String) -> String {
        match self {
            Reason::Popular => "popular with visitors".into(),
            Reason::RelatedTo(p) => format!("often chosen together with {}", product_name(*p)),
        }
    }
}

/// One recommended product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Product number.
    pub product: u32,
    /// Model score (higher is better; only comparable within one model).
    pub score: f32,
    /// Why it is recommended.
    pub reason: Reason,
}

/// The `k` best products by score, skipping `exclude` (sorted product numbers) and products
/// that no model evidence supports (`NaN` or `-inf`). Ties go to the lower product number.
pub fn top_k(scores: &[f32], exclude: &[u32], k: usize) -> Vec<u32> {
    let mut candidates: Vec<u32> = (0..scores.len() as u32)
        .filter(|p| scores[*p as usize] > f32::NEG_INFINITY && exclude.binary_search(p).is_err())
        .collect();
    let better = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    if candidates.len() > k && k > 0 {
        candidates.select_nth_unstable_by(k - 1, better);
        candidates.truncate(k);
    }
    candidates.sort_unstable_by(better);
    candidates.truncate(k);
    candidates
}

/// For each product, its related products with weights, strongest first: the servable form of
/// the item-to-item models (serialisable, so the collector can store it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NeighbourTable {
    /// `neighbours[p]`: (related product, weight) pairs, strongest (largest magnitude) first,
    /// except in a table fitted with no neighbour limit (`usize::MAX`), whose rows stay in
    /// product order (sorting them would only cost time). Negative weights (EASE) push a
    /// product down.
    pub neighbours: Vec<Vec<(u32, f32)>>,
}

impl NeighbourTable {
    /// Keeps only the `n` strongest (largest-magnitude) neighbours of each product, strongest
    /// first: a smaller table to store.
    pub fn pruned(&self, n: usize) -> NeighbourTable {
        let stronger =
            |a: &(u32, f32), b: &(u32, f32)| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0));
        let prune = |row: &Vec<(u32, f32)>| {
            let mut row = row.clone();
            if row.len() > n && n > 0 {
                row.select_nth_unstable_by(n - 1, stronger);
            }
            row.truncate(n);
            row.sort_unstable_by(stronger);
            row
        };
        NeighbourTable {
            neighbours: self.neighbours.iter().map(prune).collect(),
        }
    }

    /// Scores every product for a visitor whose history is `history` ((product, weight) pairs,
    /// in any order, e.g. a guest session's recent products): the weighted sum of the history's
    /// neighbour rows. Products no history item points to score `-inf`. Also returns, per product, the history product that
    /// contributed most.
    pub fn score(&self, history: &[(u32, f32)]) -> (Vec<f32>, Vec<u32>) {
        let n = self.neighbours.len();
        let mut scores = vec![f32::NEG_INFINITY; n];
        let mut best = vec![(u32::MAX, f32::NEG_INFINITY); n];
        for &(source, weight) in history {
            let Some(row) = self.neighbours.get(source as usize) else {
                continue;
            };
            for &(target, w) in row {
                let t = target as usize;
                let part = weight * w;
                if scores[t] == f32::NEG_INFINITY {
                    scores[t] = 0.0;
                }
                scores[t] += part;
                if part > best[t].1 {
                    best[t] = (source, part);
                }
            }
        }
        (scores, best.into_iter().map(|b| b.0).collect())
    }

    /// The `k` best products for a visitor, excluding the visitor's own history, each with the
    /// history product behind it as its reason.
    pub fn recommend(&self, history: &[(u32, f32)], k: usize) -> Vec<Scored> {
        let (scores, because) = self.score(history);
        best_unseen(&scores, history, k, |p| {
            Reason::RelatedTo(because[p as usize])
        })
    }
}

/// The `k` best-scored products outside the visitor's `history`, each with its reason.
fn best_unseen(
    scores: &[f32],
    history: &[(u32, f32)],
    k: usize,
    reason: impl Fn(u32) -> Reason,
) -> Vec<Scored> {
    let mut own: Vec<u32> = history.iter().map(|h| h.0).collect();
    own.sort_unstable();
    top_k(scores, &own, k)
        .into_iter()
        .map(|p| Scored {
            product: p,
            score: scores[p as usize],
            reason: reason(p),
        })
        .collect()
}

/// Keeps the `n` strongest entries of a dense row as (index, value) pairs, strongest first
/// (with `n = usize::MAX`: all of them, in index order), leaving out `skip` (the row's own
/// product) and zeros. Without `negatives`, strength is the
/// value and negative values are left out; with it, strength is the magnitude (a large negative
/// weight says as much as a large positive one).
pub(crate) fn strongest(row: &[f32], skip: usize, n: usize, negatives: bool) -> Vec<(u32, f32)> {
    let strength = |w: f32| if negatives { w.abs() } else { w };
    let mut kept: Vec<(u32, f32)> = row
        .iter()
        .enumerate()
        .filter(|&(i, &w)| i != skip && w != 0.0 && !w.is_nan() && (negatives || w > 0.0))
        .map(|(i, &w)| (i as u32, w))
        .collect();
    let stronger = |a: &(u32, f32), b: &(u32, f32)| {
        strength(b.1).total_cmp(&strength(a.1)).then(a.0.cmp(&b.0))
    };
    if n == 0 {
        return Vec::new();
    }
    if n == usize::MAX {
        return kept;
    }
    if kept.len() > n {
        kept.select_nth_unstable_by(n - 1, stronger);
        kept.truncate(n);
    }
    kept.sort_unstable_by(stronger);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Pair;

    #[test]
    fn events_weigh_as_their_strongest_kind() {
        use InteractionKind::*;
        let h = Histories::from_events(
            &[(0, 2, View), (0, 2, Purchase), (0, 1, Cart), (1, 0, View)],
            3,
        );
        assert_eq!(h.visitors, vec![vec![(1, 3.0), (2, 10.0)], vec![(0, 1.0)]]);
        assert_eq!(h.products, 3);
    }

    #[test]
    fn pairs_count_once_and_by_product_inverts() {
        let pairs = [
            Pair { user: 0, item: 1 },
            Pair { user: 0, item: 1 },
            Pair { user: 1, item: 1 },
        ];
        let h = Histories::from_pairs(&pairs, 2);
        assert_eq!(h.visitors, vec![vec![(1, 1.0)], vec![(1, 1.0)]]);
        assert_eq!(h.by_product(), vec![vec![], vec![(0, 1.0), (1, 1.0)]]);
    }

    #[test]
    fn top_k_orders_by_score_breaks_ties_by_number_and_excludes() {
        let scores = [0.5, 2.0, f32::NEG_INFINITY, 2.0, 1.0, 3.0];
        assert_eq!(top_k(&scores, &[5], 3), vec![1, 3, 4]);
        assert_eq!(
            top_k(&scores, &[], 10),
            vec![5, 1, 3, 4, 0],
            "-inf never shown"
        );
        assert!(top_k(&scores, &[], 0).is_empty());
    }

    #[test]
    fn neighbour_table_sums_rows_and_names_the_strongest_source() {
        // Product 0 → 2 (0.5), 3 (0.1); product 1 → 2 (0.2), 3 (0.9).
        // History {0: weight 1, 1: weight 2}: score(2) = 0.5 + 0.4 = 0.9, from 0 (0.5 > 0.4);
        // score(3) = 0.1 + 1.8 = 1.9, from 1.
        let table = NeighbourTable {
            neighbours: vec![
                vec![(2, 0.5), (3, 0.1)],
                vec![(3, 0.9), (2, 0.2)],
                vec![],
                vec![],
            ],
        };
        let recs = table.recommend(&[(0, 1.0), (1, 2.0)], 5);
        let got: Vec<(u32, Reason)> = recs.iter().map(|r| (r.product, r.reason)).collect();
        assert_eq!(
            got,
            vec![(3, Reason::RelatedTo(1)), (2, Reason::RelatedTo(0))]
        );
        assert!((recs[0].score - 1.9).abs() < 1e-6 && (recs[1].score - 0.9).abs() < 1e-6);
        assert_eq!(table.pruned(1).neighbours[1], vec![(3, 0.9)]);
        let name = |p: u32| format!("P{p}");
        assert_eq!(
            recs[0].reason.describe(name),
            "often chosen together with P1"
        );
    }

    #[test]
    fn strongest_ranks_by_value_or_by_magnitude() {
        // Row of product 1 (skipped): entries 0.2, (self), −0.9, 0, 0.5, NaN.
        let row = [0.2, 7.0, -0.9, 0.0, 0.5, f32::NAN];
        assert_eq!(strongest(&row, 1, 10, false), vec![(4, 0.5), (0, 0.2)]);
        assert_eq!(
            strongest(&row, 1, 10, true),
            vec![(2, -0.9), (4, 0.5), (0, 0.2)]
        );
        assert_eq!(strongest(&row, 1, 1, true), vec![(2, -0.9)]);
        assert_eq!(
            strongest(&row, 1, usize::MAX, true),
            vec![(0, 0.2), (2, -0.9), (4, 0.5)],
            "no limit: index order"
        );
        let table = NeighbourTable {
            neighbours: vec![vec![(0, 0.2), (2, -0.9), (4, 0.5)]],
        };
        assert_eq!(table.pruned(2).neighbours[0], vec![(2, -0.9), (4, 0.5)]);
        assert_eq!(
            table.pruned(5).neighbours[0],
            vec![(2, -0.9), (4, 0.5), (0, 0.2)]
        );
        assert!(table.pruned(0).neighbours[0].is_empty());
        assert!(strongest(&row, 1, 0, true).is_empty());
    }
}
