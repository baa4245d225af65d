//! Offline evaluation of recommenders, following the Microsoft Recommenders benchmark protocol:
//! a per-user stratified random split of interactions into train and test, then ranking metrics
//! over each visitor's top-k recommendations (precision, recall, NDCG, MAP) and catalogue
//! coverage. Pure: the caller passes the data, the seed and the recommendations in.

use std::collections::HashSet;

/// One visitor–product interaction, with visitors and products numbered densely from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair {
    /// Visitor number.
    pub user: u32,
    /// Product number.
    pub item: u32,
}

/// Interactions cut into a train part (what models learn from) and a test part (what they must find).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Interactions the models see.
    pub train: Vec<Pair>,
    /// Interactions held out, one visitor's share at a time.
    pub test: Vec<Pair>,
}

/// SplitMix64: a small, well-mixed, seedable generator, so a split is the same on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by rejection so no value is favoured.
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.next();
            if v < zone {
                return v % n;
            }
        }
    }
}

/// Per-user stratified random split: each visitor's interactions are shuffled (seeded) and the
/// first `round(train_share × n)` go to train, the rest to test, so every visitor keeps the same
/// share in both parts. Interactions are deduplicated first. Visitors are processed in number
/// order, so the split depends only on the set of interactions and the seed, not on their order.
pub fn stratified_split(interactions: &[Pair], train_share: f64, seed: u64) -> Split {
    let mut sorted = interactions.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut rng = SplitMix64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for group in sorted.chunk_by_mut(|a, b| a.user == b.user) {
        for i in (1..group.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            group.swap(i, j);
        }
        let cut = (train_share * group.len() as f64).round() as usize;
        train.extend_from_slice(&group[..cut]);
        test.extend_from_slice(&group[cut..]);
    }
    Split { train, test }
}

/// Ranking quality of one recommender over all visitors with test interactions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    /// Mean over visitors of (Σ over hits in the top k of hits-so-far / rank) / number of test
    /// items: Microsoft Recommenders' `map` (the figure its published benchmark table calls MAP).
    pub map: f64,
    /// The same sum divided by min(number of test items, k): Microsoft Recommenders' `map_at_k`.
    pub map_at_k: f64,
    /// Mean NDCG@k with binary relevance; the ideal ranking has min(test items, k) hits.
    pub ndcg: f64,
    /// Mean of hits in the top k / k.
    pub precision: f64,
    /// Mean of hits in the top k / number of test items.
    pub recall: f64,
    /// Distinct products recommended to anyone / distinct products in train.
    pub coverage: f64,
    /// Visitors the means are taken over (those with at least one test interaction).
    pub users: usize,
}

/// Scores top-k lists against held-out interactions. `recommended[u]` is visitor `u`'s ranked
/// list (only its first `k` entries count); `test` holds what each visitor actually did;
/// `train_items` is how many distinct products train has (the coverage denominator). Visitors
/// without test interactions are not counted, as in Microsoft Recommenders (which averages over
/// visitors present in both the test set and the recommendations).
pub fn rank_metrics(
    recommended: &[Vec<u32>],
    test: &[Pair],
    k: usize,
    train_items: usize,
) -> Metrics {
    let users = recommended
        .len()
        .max(test.iter().map(|p| p.user as usize + 1).max().unwrap_or(0));
    let mut relevant: Vec<HashSet<u32>> = vec![HashSet::new(); users];
    for p in test {
        relevant[p.user as usize].insert(p.item);
    }
    let mut m = Metrics::default();
    let mut shown: HashSet<u32> = HashSet::new();
    let discount = |rank: usize| 1.0 / ((rank + 1) as f64).log2();
    for (user, relevant) in relevant.iter().enumerate() {
        let list = recommended
            .get(user)
            .map_or(&[][..], |l| &l[..l.len().min(k)]);
        shown.extend(list.iter().copied());
        if relevant.is_empty() {
            continue;
        }
        let (mut hits, mut dcg, mut precision_sum) = (0usize, 0.0, 0.0);
        for (i, item) in list.iter().enumerate() {
            if relevant.contains(item) {
                hits += 1;
                dcg += discount(i + 1);
                precision_sum += hits as f64 / (i + 1) as f64;
            }
        }
        let ideal: f64 = (1..=relevant.len().min(k)).map(discount).sum();
        m.users += 1;
        m.map += precision_sum / relevant.len() as f64;
        m.map_at_k += precision_sum / relevant.len().min(k) as f64;
        m.ndcg += dcg / ideal;
        m.precision += hits as f64 / k as f64;
        m.recall += hits as f64 / relevant.len() as f64;
    }
    if m.users > 0 {
        let n = m.users as f64;
        m.map /= n;
        m.map_at_k /= n;
        m.ndcg /= n;
        m.precision /= n;
        m.recall /= n;
    }
    m.coverage = if train_items == 0 {
        0.0
    } else {
        shown.len() as f64 / train_items as f64
    };
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(user: u32, item: u32) -> Pair {
        Pair { user, item }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn split_keeps_each_visitors_share_and_loses_nothing() {
        // Visitor 0: 8 interactions → 6 train / 2 test; visitor 1: 4 → 3 / 1; visitor 2: 1 → 1 / 0
        // (round(0.75) = 1); visitor 3: 2 → round(1.5) = 2 / 0.
        let mut all = Vec::new();
        all.extend((0..8).map(|i| pair(0, i)));
        all.extend((10..14).map(|i| pair(1, i)));
        all.push(pair(2, 5));
        all.extend([pair(3, 1), pair(3, 2)]);
        let split = stratified_split(&all, 0.75, 42);
        let count = |part: &[Pair], u: u32| part.iter().filter(|p| p.user == u).count();
        assert_eq!(
            [0, 1, 2, 3].map(|u| (count(&split.train, u), count(&split.test, u))),
            [(6, 2), (3, 1), (1, 0), (2, 0)]
        );
        let mut back: Vec<Pair> = split.train.iter().chain(&split.test).copied().collect();
        back.sort();
        all.sort();
        assert_eq!(back, all, "every interaction lands in exactly one part");
    }

    #[test]
    fn split_is_deterministic_for_a_seed_and_independent_of_input_order() {
        let all: Vec<Pair> = (0..5)
            .flat_map(|u| (0..20).map(move |i| pair(u, i * 3 + u)))
            .collect();
        let reversed: Vec<Pair> = all.iter().rev().copied().collect();
        let a = stratified_split(&all, 0.75, 42);
        assert_eq!(a, stratified_split(&reversed, 0.75, 42));
        let other = stratified_split(&all, 0.75, 7);
        assert_ne!(a.test, other.test, "another seed picks other test items");
    }

    #[test]
    fn split_drops_duplicate_interactions() {
        let all = [pair(0, 1), pair(0, 1), pair(0, 2), pair(0, 3), pair(0, 4)];
        let split = stratified_split(&all, 0.75, 1);
        // 4 distinct → 3 train, 1 test.
        assert_eq!((split.train.len(), split.test.len()), (3, 1));
    }

    #[test]
    fn split_shuffles_rather_than_cutting_in_item_order() {
        // With 1,000 visitors of 4 items, a cut in order would always test item 3; a fair shuffle
        // tests each of the 4 items about 250 times.
        let all: Vec<Pair> = (0..1000)
            .flat_map(|u| (0..4).map(move |i| pair(u, i)))
            .collect();
        let split = stratified_split(&all, 0.75, 42);
        for item in 0..4 {
            let n = split.test.iter().filter(|p| p.item == item).count();
            assert!((180..320).contains(&n), "item {item} tested {n} times");
        }
    }

    #[test]
    fn metrics_of_one_visitor_computed_by_hand() {
        // Test items {1, 2, 3}; top 4 = [1, 9, 2, 8]: hits at ranks 1 and 3.
        // precision = 2/4 = 0.5; recall = 2/3.
        // AP sum = 1/1 + 2/3 = 5/3; map = (5/3)/3 = 5/9; map_at_k = (5/3)/min(3,4) = 5/9.
        // DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5;
        // IDCG = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.630929753571 + 0.5 = 2.130929753571;
        // NDCG = 1.5 / 2.130929753571 = 0.703917...
        let m = rank_metrics(
            &[vec![1, 9, 2, 8]],
            &[pair(0, 1), pair(0, 2), pair(0, 3)],
            4,
            10,
        );
        assert_eq!(m.users, 1);
        assert!(close(m.precision, 0.5), "{m:?}");
        assert!(close(m.recall, 2.0 / 3.0), "{m:?}");
        assert!(close(m.map, 5.0 / 9.0), "{m:?}");
        assert!(close(m.map_at_k, 5.0 / 9.0), "{m:?}");
        assert!(close(m.ndcg, 1.5 / 2.130_929_753_571_457), "{m:?}");
        // 4 distinct items shown out of 10 in train.
        assert!(close(m.coverage, 0.4), "{m:?}");
    }

    #[test]
    fn map_at_k_caps_the_denominator_at_k_and_means_average_over_visitors() {
        // k = 2. Visitor 0: 3 test items {5, 6, 7}, top 2 = [5, 6]: both hit.
        //   precision 1, recall 2/3, AP sum 1 + 1 = 2, map 2/3, map_at_k 2/min(3,2) = 1, NDCG 1.
        // Visitor 1: test {4}, top 2 = [3, 4]: hit at rank 2.
        //   precision 1/2, recall 1, AP sum 1/2, map 1/2, map_at_k 1/2,
        //   DCG 1/log2(3) = 0.630929753571, IDCG 1 → NDCG 0.630929753571.
        // Visitor 2: no test items → not counted (but its list counts for coverage).
        // Means over 2 visitors: precision 0.75, recall 5/6, map 7/12, map_at_k 0.75,
        // NDCG 0.8154648767857. Coverage: {5, 6, 3, 4, 1, 2} = 6 of 12.
        let m = rank_metrics(
            &[vec![5, 6, 9], vec![3, 4], vec![1, 2]],
            &[pair(0, 5), pair(0, 6), pair(0, 7), pair(1, 4)],
            2,
            12,
        );
        assert_eq!(m.users, 2);
        assert!(close(m.precision, 0.75), "{m:?}");
        assert!(close(m.recall, 5.0 / 6.0), "{m:?}");
        assert!(close(m.map, 7.0 / 12.0), "{m:?}");
        assert!(close(m.map_at_k, 0.75), "{m:?}");
        assert!(close(m.ndcg, 0.815_464_876_785_728_5), "{m:?}");
        assert!(close(m.coverage, 0.5), "{m:?}");
    }

    #[test]
    fn a_visitor_with_no_recommendations_scores_zero() {
        // Visitor 0 has test items but no list: all zeros; visitor 1: perfect list for k = 1.
        let m = rank_metrics(&[vec![], vec![3]], &[pair(0, 1), pair(1, 3)], 1, 4);
        assert_eq!(m.users, 2);
        assert!(close(m.precision, 0.5) && close(m.ndcg, 0.5) && close(m.recall, 0.5));
    }
}
