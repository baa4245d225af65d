//! EASE (Steck, 2019, "Embarrassingly Shallow Autoencoders"): a closed-form item-to-item
//! weight matrix B = I − P·diag(1/diag(P)) with P = (XᵀX + λI)⁻¹ and a zero diagonal, where X
//! is the visitor × product matrix of weights. A visitor's scores are their history times B.
//! One dense inverse of a products × products matrix (faer's Cholesky), so it suits catalogues
//! up to some tens of thousands of products; the result is kept as a [`NeighbourTable`] (every
//! weight, or the N largest in magnitude of each row for a smaller table to serve).

use faer::linalg::solvers::DenseSolveCore;
use faer::Mat;

use super::{strongest, Histories, NeighbourTable};

/// Settings of EASE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ease {
    /// L2 regularisation λ added to the Gram matrix's diagonal.
    pub lambda: f64,
    /// Neighbours kept per product, by magnitude, negative weights included (`usize::MAX` keeps
    /// every non-zero weight: exact EASE scores).
    pub neighbours: usize,
}

impl Default for Ease {
    fn default() -> Self {
        Ease {
            lambda: 500.0,
            neighbours: usize::MAX,
        }
    }
}

impl Ease {
    /// Fits the model. Products nobody chose get no neighbours. `None` if the regularised Gram
    /// matrix is not positive definite (only possible with λ ≤ 0).
    pub fn fit(&self, histories: &Histories) -> Option<NeighbourTable> {
        let n = histories.products;
        let mut gram = Mat::<f64>::zeros(n, n);
        for list in &histories.visitors {
            for &(i, wi) in list {
                for &(j, wj) in list {
                    gram[(i as usize, j as usize)] += f64::from(wi * wj);
                }
            }
        }
        let mut chosen = vec![false; n];
        for i in 0..n {
            chosen[i] = gram[(i, i)] > 0.0;
            gram[(i, i)] += self.lambda;
        }
        let p = gram.llt(faer::Side::Lower).ok()?.inverse();
        let diagonal: Vec<f64> = (0..n).map(|j| p[(j, j)]).collect();
        let mut row = vec![0.0f32; n];
        let neighbours = (0..n)
            .map(|i| {
                if !chosen[i] {
                    return Vec::new();
                }
                // B[i][j] = −P[i][j] / P[j][j], read down column i (P is symmetric, and faer
                // stores columns contiguously); unchosen targets are never recommended.
                let column = p.col(i);
                let entries = row
                    .iter_mut()
                    .zip(column.iter())
                    .zip(&diagonal)
                    .zip(&chosen);
                for (((r, &pji), &pjj), &target_chosen) in entries {
                    *r = if target_chosen {
                        (-pji / pjj) as f32
                    } else {
                        0.0
                    };
                }
                strongest(&row, i, self.neighbours, true)
            })
            .collect();
        Some(NeighbourTable { neighbours })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_products_closed_form_by_hand() {
        // Visitors 0 and 1 both chose products 0 and 1; visitor 2 chose only 0. λ = 1.
        // XᵀX = [[3, 2], [2, 2]]; + λI = [[4, 2], [2, 3]], determinant 12 − 4 = 8;
        // P = [[3, −2], [−2, 4]] / 8. B[0][1] = −P[0][1]/P[1][1] = (2/8)/(4/8) = 0.5;
        // B[1][0] = −P[1][0]/P[0][0] = (2/8)/(3/8) = 2/3.
        let h = Histories::from_weighted(
            &[
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.0),
                (1, 1, 1.0),
                (2, 0, 1.0),
            ],
            3,
        );
        let table = Ease {
            lambda: 1.0,
            ..Default::default()
        }
        .fit(&h)
        .unwrap();
        assert_eq!(table.neighbours[0].len(), 1);
        assert!((table.neighbours[0][0].1 - 0.5).abs() < 1e-6, "{table:?}");
        assert!(
            (table.neighbours[1][0].1 - 2.0 / 3.0).abs() < 1e-6,
            "{table:?}"
        );
        assert!(table.neighbours[2].is_empty(), "product 2 was never chosen");
    }

    #[test]
    fn negative_lambda_that_breaks_positive_definiteness_is_refused() {
        let h = Histories::from_weighted(&[(0, 0, 1.0)], 1);
        assert!(Ease {
            lambda: -5.0,
            ..Default::default()
        }
        .fit(&h)
        .is_none());
    }
}
