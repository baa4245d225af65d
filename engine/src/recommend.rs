//! What visitors do with products, and how much each kind of interaction weighs. The
//! recommenders themselves live in [`crate::recommenders`], placements in
//! [`crate::recommend_placement`].

use serde::{Deserialize, Serialize};

/// What a visitor did with a product, weighted by how strongly it signals intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InteractionKind {
    /// Product page viewed.
    View,
    /// Product present in a cart snapshot.
    Cart,
    /// Product bought.
    Purchase,
}

impl InteractionKind {
    /// Weight of one interaction in popularity scores: view < cart < purchase.
    pub fn weight(self) -> f64 {
        match self {
            Self::View => 1.0,
            Self::Cart => 3.0,
            Self::Purchase => 10.0,
        }
    }
}
