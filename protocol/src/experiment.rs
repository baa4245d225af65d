//! A/B tests and the on-site events that measure them, shared by the widgets (which assign and
//! report variants), the engine (which counts them) and the collector (which serves and reports).
//!
//! A visitor's variant is a pure function of the visitor ID and the test's key, so every page,
//! tab and module of the site shows the same visitor the same variant without storing anything.

/// A widget (form, bar, push prompt) was displayed. Properties: [`WIDGET_ID`], [`WIDGET_KIND`],
/// [`VARIANT`] when the widget is under test.
pub const WIDGET_SHOWN: &str = "Widget Shown";
/// A widget was closed by the visitor without submitting it.
pub const WIDGET_CLOSED: &str = "Widget Closed";
/// A widget's form was submitted successfully.
pub const WIDGET_SUBMITTED: &str = "Widget Submitted";
/// A recommendation block became visible (at least half of it in the viewport).
/// Properties: [`RECOMM_ID`], [`PLACEMENT`], [`VARIANT`] when the placement is under test, and
/// the IDs of the products it showed, in order
/// ([`crate::recommendation::SHOWN_PRODUCT_IDS`]: the engine's rotation counts them).
pub const BLOCK_VIEWED: &str = "Recommendation Block Viewed";
/// A product card of a recommendation block was clicked (Segment's ecommerce name).
/// Properties: `product_id`, [`RECOMM_ID`], [`PLACEMENT`], [`VARIANT`].
pub const PRODUCT_CLICKED: &str = "Product Clicked";

/// Property key: the widget's ID in the site configuration.
pub const WIDGET_ID: &str = "widget_id";
/// Property key: the widget's kind (`popup`, `floating`, `bar`, `embedded`, `push`).
pub const WIDGET_KIND: &str = "widget_kind";
/// Property key: the variant shown (its name in the configuration).
pub const VARIANT: &str = "variant";
/// Property key: the answer ID of a recommendation block, for attribution.
pub const RECOMM_ID: &str = "recomm_id";
/// Property key: the placement of a recommendation block.
pub const PLACEMENT: &str = "placement";

/// Number of buckets a test's traffic is divided into (weights are shares of these).
pub const BUCKETS: u32 = 10_000;

/// FNV-1a, 64 bits: tiny, stable across platforms and languages, and good enough to spread
/// random visitor IDs evenly (they are UUIDs already; the hash only mixes in the test key).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in *part {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// The bucket (`0..BUCKETS`) of a visitor in a test. A different test key reshuffles visitors,
/// so being in the first variant of one test says nothing about the next test.
pub fn bucket(visitor_id: &str, test_key: &str) -> u32 {
    (fnv1a(&[test_key.as_bytes(), b":", visitor_id.as_bytes()]) % u64::from(BUCKETS)) as u32
}

/// Index of the variant a visitor sees, given each variant's weight (any positive scale;
/// zero-weight variants are never chosen). `None` when there are no variants or all weigh 0.
pub fn pick(visitor_id: &str, test_key: &str, weights: &[u32]) -> Option<usize> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return None;
    }
    let point = u64::from(bucket(visitor_id, test_key)) * total / u64::from(BUCKETS);
    let mut start = 0u64;
    for (i, &w) in weights.iter().enumerate() {
        start += u64::from(w);
        if point < start {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv, test vectors for FNV-1a 64).
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(&[b"foobar"]), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a(&[b"foo", b"bar"]), fnv1a(&[b"foobar"]));
    }

    #[test]
    fn the_same_visitor_always_gets_the_same_variant() {
        for i in 0..200 {
            let visitor = format!("visitor-{i}");
            assert_eq!(
                pick(&visitor, "popup-2026", &[1, 1]),
                pick(&visitor, "popup-2026", &[1, 1])
            );
        }
    }

    #[test]
    fn weights_split_visitors_in_proportion() {
        let mut counts = [0u32; 3];
        for i in 0..30_000 {
            let visitor = format!("{i:08x}-4d2c-4f7e-9a51-{:012x}", i * 7919);
            counts[pick(&visitor, "bar-test", &[50, 30, 20]).unwrap()] += 1;
        }
        // 15,000 / 9,000 / 6,000 expected; a binomial sd is ~87, allow ±3 %.
        assert!((14_550..=15_450).contains(&counts[0]), "{counts:?}");
        assert!((8_730..=9_270).contains(&counts[1]), "{counts:?}");
        assert!((5_820..=6_180).contains(&counts[2]), "{counts:?}");
    }

    #[test]
    fn different_tests_reshuffle_visitors() {
        let mut same = 0;
        for i in 0..10_000 {
            let visitor = format!("v{i}");
            if pick(&visitor, "test-a", &[1, 1]) == pick(&visitor, "test-b", &[1, 1]) {
                same += 1;
            }
        }
        // Independent tests agree about half the time.
        assert!((4_700..=5_300).contains(&same), "{same}");
    }

    #[test]
    fn no_weight_means_no_variant() {
        assert_eq!(pick("v", "t", &[]), None);
        assert_eq!(pick("v", "t", &[0, 0]), None);
        for i in 0..100 {
            assert_eq!(pick(&format!("v{i}"), "t", &[0, 5]), Some(1));
        }
    }
}
