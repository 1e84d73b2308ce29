//! A [`Gbm`] compiled for walking many rows at once, with the same answers
//! bit for bit.
//!
//! Per-site coverage asks the learned model for ~88,000 predictions of 150
//! trees each; the tree walks are most of its time. Two things make a walk
//! cheaper here than in [`Gbm::predict_rows`]:
//!
//! - **Ranks instead of thresholds.** Each feature's distinct split
//!   thresholds are sorted once; a row's value becomes its rank, the number
//!   of thresholds below it, and a split on the k-th threshold becomes
//!   `rank > k`. That is exactly `x > threshold` for every x, NaN included
//!   (rank 0, never right, as NaN > t is false), so the trees choose the
//!   same leaves. A row is then 32 bytes and a node 2, so a tree is one
//!   cache line.
//! - **Fixed shapes.** Trees are padded to depth [`DEPTH`] (nodes that send
//!   every row left, the leaves repeated under them) and rows to
//!   [`WIDTH`] features, so every index is masked into a fixed-size array
//!   and needs no bounds check.
//!
//! Models that do not fit (deeper trees, more than [`WIDTH`] features, more
//! than 255 distinct thresholds of one feature) are not compiled; callers
//! fall back to [`Gbm::predict_rows`].

use crate::gbm::Gbm;

/// Depth every tree is padded to.
const DEPTH: usize = 5;
/// Nodes of a padded tree (2^DEPTH − 1 internal, one unused) and leaves.
const NODES: usize = 1 << DEPTH;
/// Features a row can have.
const WIDTH: usize = 32;
/// Rows walked down a tree in lock step: their chains of dependent loads
/// overlap (see [`Gbm::predict_rows`]).
const LANES: usize = 8;
/// Rows per block: their ranks (2 KB) and one tree stay in L1.
const BLOCK: usize = 64;
/// A padding node's rank threshold: no rank exceeds it, every row goes left.
const ALWAYS_LEFT: u16 = 255;

/// A [`Gbm`] as rank tests on padded trees (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct RankedGbm {
    base: f64,
    /// Per feature up to the last one split on, its distinct split
    /// thresholds in increasing order.
    cuts: Vec<Vec<f64>>,
    /// Per tree, its nodes in level order: feature in the low byte, rank
    /// threshold in the high byte.
    nodes: Vec<[u16; NODES]>,
    /// Per tree, the leaf each padded walk ends at.
    leaves: Vec<[f64; NODES]>,
}

impl RankedGbm {
    /// The compiled trees, or `None` for a model that does not fit.
    pub(crate) fn new(gbm: &Gbm) -> Option<Self> {
        let depth = gbm.depth;
        let internal = (1usize << depth) - 1;
        let trees = gbm.n_trees();
        if !(1..=DEPTH).contains(&depth)
            || gbm.split_feature.len() != trees * internal
            || gbm.split_threshold.len() != trees * internal
            || gbm.leaf_value.len() != trees << depth
            || gbm.split_feature.iter().any(|&f| usize::from(f) >= WIDTH)
        {
            return None;
        }
        let mut cuts = vec![Vec::new(); WIDTH];
        for (&f, &t) in gbm.split_feature.iter().zip(&gbm.split_threshold) {
            cuts[usize::from(f)].push(t);
        }
        for c in &mut cuts {
            c.sort_by(f64::total_cmp);
            c.dedup_by(|a, b| a.total_cmp(b).is_eq());
            // NaN thresholds (never right) have no rank; 255 would collide
            // with the padding.
            if c.len() > usize::from(ALWAYS_LEFT) || c.iter().any(|t| t.is_nan()) {
                return None;
            }
        }
        let width = gbm
            .split_feature
            .iter()
            .map(|&f| usize::from(f) + 1)
            .max()
            .unwrap_or(0);
        cuts.truncate(width);
        let lift = DEPTH - depth;
        let mut nodes = vec![[ALWAYS_LEFT << 8; NODES]; trees];
        let mut leaves = vec![[0.0; NODES]; trees];
        for (t, (tree_nodes, tree_leaves)) in nodes.iter_mut().zip(&mut leaves).enumerate() {
            let splits = &gbm.split_feature[t * internal..][..internal];
            let thresholds = &gbm.split_threshold[t * internal..][..internal];
            for ((node, &f), &threshold) in tree_nodes.iter_mut().zip(splits).zip(thresholds) {
                let k = cuts[usize::from(f)].partition_point(|&c| c < threshold);
                // k ≤ 254: it fits the high byte.
                *node = f | ((k as u16) << 8);
            }
            // A leaf j of the original tree is reached in the padded one by
            // going left `lift` more times: leaf j << lift.
            for (j, leaf) in tree_leaves.iter_mut().enumerate() {
                *leaf = gbm.leaf_value[(t << depth) + (j >> lift)];
            }
        }
        Some(Self {
            base: gbm.base,
            cuts,
            nodes,
            leaves,
        })
    }

    /// As [`Gbm::predict_rows`]: `out.len()` rows of `stride` values, a
    /// feature at or beyond `stride` reading as +∞.
    ///
    /// # Panics
    /// When `rows` is shorter than `out.len() × stride`.
    pub(crate) fn predict_rows(&self, rows: &[f64], stride: usize, out: &mut [f64]) {
        assert!(rows.len() >= out.len() * stride, "rows shorter than out");
        let mut ranks = [[0u8; WIDTH]; BLOCK];
        for (block, sums) in out.chunks_mut(BLOCK).enumerate() {
            let ranks = &mut ranks[..sums.len()];
            for (r, rank) in ranks.iter_mut().enumerate() {
                let row = &rows[(block * BLOCK + r) * stride..][..stride];
                for (f, (rank, cuts)) in rank.iter_mut().zip(&self.cuts).enumerate() {
                    let x = row.get(f).copied().unwrap_or(f64::INFINITY);
                    // At most 255 cuts: the rank fits a u8.
                    *rank = cuts.partition_point(|&c| c < x) as u8;
                }
            }
            sums.fill(self.base);
            for (nodes, leaves) in self.nodes.iter().zip(&self.leaves) {
                let mut lanes = sums.chunks_exact_mut(LANES);
                let mut rows = ranks.chunks_exact(LANES);
                for (lane_sums, lane_rows) in (&mut lanes).zip(&mut rows) {
                    walk::<LANES>(nodes, leaves, lane_rows, lane_sums);
                }
                let rest = lanes.into_remainder();
                for (sum, row) in rest.iter_mut().zip(rows.remainder()) {
                    walk::<1>(
                        nodes,
                        leaves,
                        std::slice::from_ref(row),
                        std::slice::from_mut(sum),
                    );
                }
            }
        }
    }
}

/// Adds one tree's leaf for each of `L` rows of ranks to `sums`.
fn walk<const L: usize>(
    nodes: &[u16; NODES],
    leaves: &[f64; NODES],
    rows: &[[u8; WIDTH]],
    sums: &mut [f64],
) {
    let mut idx = [0usize; L];
    for _ in 0..DEPTH {
        for (i, row) in idx.iter_mut().zip(rows) {
            let node = nodes[*i & (NODES - 1)];
            let rank = row[usize::from(node) & (WIDTH - 1)];
            *i = 2 * *i + 1 + usize::from(u16::from(rank) > node >> 8);
        }
    }
    for (sum, i) in sums.iter_mut().zip(idx) {
        // After DEPTH levels i is a leaf: NODES − 1 ..= 2·NODES − 2.
        *sum += leaves[(i + 1) & (NODES - 1)];
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use linfa::prelude::*;
    use ndarray::{Array1, Array2};

    use super::*;
    use crate::GbmParams;
    use crate::gbm::SplitMix64;

    /// A model of `depth` on random data with repeated values (ties on
    /// thresholds) and a NaN-free target.
    fn model(depth: usize, features: usize, rows: usize) -> (Gbm, Array2<f64>) {
        let mut rng = SplitMix64::new(depth as u64);
        let x = Array2::from_shape_fn((rows, features), |_| {
            (rng.next_f64() * 40.0).round() / 4.0 - 5.0
        });
        let y = Array1::from_iter(x.rows().into_iter().map(|r| {
            r[0] * r[1 % features] - 2.0 * r[2 % features].abs()
                + if r[features - 1] > 0.5 { 3.0 } else { -1.0 }
        }));
        let gbm = GbmParams::new()
            .n_trees(23)
            .max_depth(depth)
            .min_samples_leaf(3)
            .fit(&Dataset::new(x.clone(), y))
            .unwrap();
        (gbm, x)
    }

    #[test]
    fn same_leaves_as_the_trees() {
        for depth in 1..=DEPTH {
            let (gbm, x) = model(depth, 6, 203);
            let ranked = RankedGbm::new(&gbm).expect("fits");
            // The training rows (values on the thresholds' neighbours),
            // the thresholds themselves, ±∞ and NaN.
            let mut rows: Vec<f64> = x.iter().copied().collect();
            for &t in &gbm.split_threshold {
                rows.extend([t; 6]);
            }
            rows.extend([f64::INFINITY; 6]);
            rows.extend([f64::NEG_INFINITY; 6]);
            rows.extend([f64::NAN; 6]);
            let n = rows.len() / 6;
            let mut out = vec![0.0; n];
            ranked.predict_rows(&rows, 6, &mut out);
            for (row, got) in rows.chunks_exact(6).zip(&out) {
                assert_eq!(got.to_bits(), gbm.predict_row(row).to_bits(), "{row:?}");
            }
            // Short rows: the missing features read as +∞.
            let short: Vec<f64> = rows.chunks_exact(6).flat_map(|r| r[..4].to_vec()).collect();
            ranked.predict_rows(&short, 4, &mut out);
            for (row, got) in short.chunks_exact(4).zip(&out) {
                assert_eq!(got.to_bits(), gbm.predict_row(row).to_bits());
            }
        }
    }

    #[test]
    fn models_that_do_not_fit_are_not_compiled() {
        let (deep, _) = model(6, 6, 300);
        assert!(RankedGbm::new(&deep).is_none());
        let (mut wide, _) = model(3, 6, 100);
        wide.split_feature[0] = 40;
        assert!(RankedGbm::new(&wide).is_none());
    }
}
