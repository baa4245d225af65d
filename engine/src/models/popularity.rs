//! Popularity: products ranked by the summed weight of the visitors who chose them.

use super::{best_unseen, Histories, Reason, Scored};

/// Weighted popularity of every product (0 for products nobody chose).
#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    /// Per product, the sum of its interaction weights over all visitors.
    pub weights: Vec<f32>,
}

impl Popularity {
    /// Sums each product's interaction weights (a purchase counts more than a view).
    pub fn fit(histories: &Histories) -> Self {
        let mut weights = vec![0.0f32; histories.products];
        for list in &histories.visitors {
            for &(p, w) in list {
                weights[p as usize] += w;
            }
        }
        Popularity { weights }
    }

    /// The `k` most popular products the visitor has not chosen yet (`history` in any order);
    /// products nobody chose are never recommended.
    pub fn recommend(&self, history: &[(u32, f32)], k: usize) -> Vec<Scored> {
        let scores: Vec<f32> = self
            .weights
            .iter()
            .map(|&w| if w > 0.0 { w } else { f32::NEG_INFINITY })
            .collect();
        best_unseen(&scores, history, k, |_| Reason::Popular)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_add_up_and_own_products_are_skipped() {
        // Product 0: 1 + 1 = 2; product 1: 10; product 2: 3; product 3: nobody.
        let h = Histories::from_weighted(&[(0, 0, 1.0), (1, 0, 1.0), (1, 1, 10.0), (2, 2, 3.0)], 4);
        let model = Popularity::fit(&h);
        assert_eq!(model.weights, vec![2.0, 10.0, 3.0, 0.0]);
        let got: Vec<u32> = model
            .recommend(&[(1, 10.0)], 5)
            .iter()
            .map(|s| s.product)
            .collect();
        assert_eq!(
            got,
            vec![2, 0],
            "own product 1 and unchosen product 3 are left out"
        );
    }
}
