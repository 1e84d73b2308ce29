//! A [`Gbm`] compiled for evaluating many rows at once, with the same
//! answers bit for bit.
//!
//! Per-site coverage asks the learned model for ~88,000 predictions of 150
//! trees each; the trees were most of its time. Two things make them
//! cheaper here than in [`Gbm::predict_rows`]:
//!
//! - **Ranks instead of thresholds.** Each feature's distinct split
//!   thresholds are sorted once; a row's value becomes its rank, the number
//!   of thresholds below it, and a split on the k-th threshold becomes
//!   `rank > k`. That is exactly `x > threshold` for every x, NaN included
//!   (rank 0, never right, as NaN > t is false), so the trees choose the
//!   same leaves. Ranks are kept column by column for a block of
//!   [`BLOCK`] rows, so one test reads one feature of every row in a row:
//!   the compiler turns it into vector compares.
//! - **No walks** (QuickScorer, Lucchese et al., SIGIR 2015): instead of
//!   following one path per row, a chain of dependent loads, every split
//!   of a tree is tested for every row of the block. A row that goes right
//!   at a node cannot end in that node's left subtree, so the node clears
//!   those leaves from the row's bit set of possible leaves; the leftmost
//!   leaf left is the one the walk ends at (every leaf left of it shares an
//!   ancestor with it where the row went right). Per-site coverage on Ulm
//!   took 121 ms with walks of eight rows in lock step, 73 ms this way.
//!
//! Models that do not fit (trees deeper than [`DEPTH`], more than
//! [`WIDTH`] features, more than [`MAX_CUTS`] distinct thresholds of one
//! feature) are not compiled; callers fall back to [`Gbm::predict_rows`].

use crate::gbm::Gbm;

/// Deepest tree compiled: its leaves fit a `u32` bit set.
const DEPTH: usize = 5;
/// Features a row can have.
const WIDTH: usize = 32;
/// Rows per block: their ranks (8 KB), their leaf sets (1 KB) and a tree
/// stay in L1. (Per-site coverage on Ulm, 150 trees: 76.5 ms a site with
/// 64 rows, 74.3 with 128, 72.7 with 256, 91.1 with 512.)
const BLOCK: usize = 256;
/// Most distinct thresholds of one feature: ranks (0..=MAX_CUTS) fit a byte.
const MAX_CUTS: usize = 255;

/// A [`Gbm`] as rank tests and leaf bit sets (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct RankedGbm {
    base: f64,
    /// Per feature up to the last one split on, its distinct split
    /// thresholds and where to look for a value's rank among them.
    cuts: Vec<Cuts>,
    /// Every tree's node tests, tree after tree, level order.
    tests: Vec<Test>,
    /// Per node position (the same in every tree), the leaves a row going
    /// right keeps: all but the node's left subtree's.
    keeps_right: Vec<u32>,
    /// Per tree, its leaves left to right (the first 2^depth used).
    leaves: Vec<[f64; 1 << DEPTH]>,
}

/// One split as a rank test: rows with `rank[feature] > rank` go right.
#[derive(Debug, Clone, Copy)]
struct Test {
    feature: u8,
    rank: u8,
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
            // NaN thresholds (never right) have no rank.
            if c.len() > MAX_CUTS || c.iter().any(|t| t.is_nan()) {
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
        let cuts: Vec<Cuts> = cuts.into_iter().map(Cuts::new).collect();
        // Feature < WIDTH and rank ≤ MAX_CUTS: both fit a byte. Nodes that
        // do not split (threshold f64::MAX) stay: a feature of +∞ goes
        // right there.
        let tests = gbm
            .split_feature
            .iter()
            .zip(&gbm.split_threshold)
            .map(|(&f, &threshold)| Test {
                feature: f as u8,
                rank: cuts[usize::from(f)].rank(threshold),
            })
            .collect();
        let keeps_right = (0..internal).map(|n| keeps_right(n, depth)).collect();
        let leaves = gbm
            .leaf_value
            .chunks_exact(1 << depth)
            .map(|tree_leaves| {
                let mut padded = [0.0; 1 << DEPTH];
                padded[..1 << depth].copy_from_slice(tree_leaves);
                padded
            })
            .collect();
        Some(Self {
            base: gbm.base,
            cuts,
            tests,
            keeps_right,
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
        let mut columns = [[0u8; BLOCK]; WIDTH];
        for (block, sums) in out.chunks_mut(BLOCK).enumerate() {
            for r in 0..sums.len() {
                let row = &rows[(block * BLOCK + r) * stride..][..stride];
                for (f, (column, cuts)) in columns.iter_mut().zip(&self.cuts).enumerate() {
                    let x = row.get(f).copied().unwrap_or(f64::INFINITY);
                    column[r] = cuts.rank(x);
                }
            }
            // Rows of the block past `sums.len()` hold stale ranks: their
            // leaves are found and dropped.
            sums.fill(self.base);
            let trees = self.tests.chunks_exact(self.keeps_right.len());
            for (tree_tests, leaves) in trees.zip(&self.leaves) {
                let mut alive = [u32::MAX; BLOCK];
                for (test, &keep) in tree_tests.iter().zip(&self.keeps_right) {
                    let column = &columns[usize::from(test.feature) & (WIDTH - 1)];
                    for (alive, &rank) in alive.iter_mut().zip(column) {
                        *alive &= if rank > test.rank { keep } else { u32::MAX };
                    }
                }
                for (sum, &alive) in sums.iter_mut().zip(&alive) {
                    // The exit leaf always survives: alive ≠ 0.
                    *sum += leaves[alive.trailing_zeros() as usize & ((1 << DEPTH) - 1)];
                }
            }
        }
    }
}

/// Buckets of a feature's guess table per cut: most buckets then hold no
/// cut, so a guess is mostly the rank.
const BUCKETS_PER_CUT: usize = 4;

/// One feature's distinct split thresholds in increasing order, with a
/// table that guesses a value's rank from where it lies between the
/// smallest and the largest ordinary cut (uniform buckets). The guess is
/// then moved to the exact rank by comparing with the cuts beside it, so a
/// poor guess (a skewed feature, a value on a bucket's edge, ±∞, NaN) costs
/// time, never correctness. A binary search over 128 cuts (the default
/// `max_bins`; up to [`MAX_CUTS`]) is seven or eight dependent steps per
/// value; this is a multiply, a load and two compares.
#[derive(Debug, Clone)]
struct Cuts {
    cuts: Vec<f64>,
    /// The first bucket's start and buckets per unit of the feature (0:
    /// no table, every guess is 0).
    lo: f64,
    buckets_per_unit: f64,
    /// Per bucket, the number of cuts below its start.
    guess: Vec<u8>,
}

impl Cuts {
    /// `cuts` increasing, distinct, without NaN, at most [`MAX_CUTS`].
    fn new(cuts: Vec<f64>) -> Self {
        // The table spans the ordinary cuts: not ±∞ or ±f64::MAX (nodes that
        // do not split), which would stretch every bucket.
        let ordinary: Vec<f64> = cuts
            .iter()
            .copied()
            .filter(|c| c.abs() < f64::MAX / 4.0)
            .collect();
        let buckets = ordinary.len() * BUCKETS_PER_CUT;
        // Fewer than two distinct ordinary cuts, or a span too wide or too
        // narrow for the bucket width to be a finite positive number: no
        // table (every guess 0, the scan finds the rank).
        let table = match (ordinary.first(), ordinary.last()) {
            (Some(&lo), Some(&hi)) if hi > lo => Some((lo, buckets as f64 / (hi - lo))),
            _ => None,
        }
        .filter(|&(_, per_unit)| per_unit.is_finite() && per_unit > 0.0);
        let Some((lo, buckets_per_unit)) = table else {
            return Self {
                cuts,
                lo: 0.0,
                buckets_per_unit: 0.0,
                guess: vec![0],
            };
        };
        let guess = (0..buckets)
            .map(|b| {
                let start = lo + b as f64 / buckets_per_unit;
                // At most MAX_CUTS cuts: fits a byte.
                cuts.partition_point(|&c| c < start) as u8
            })
            .collect();
        Self {
            cuts,
            lo,
            buckets_per_unit,
            guess,
        }
    }

    /// The number of cuts below `x` (`c < x`; 0 for NaN): exactly
    /// `partition_point(|&c| c < x)`.
    #[inline]
    fn rank(&self, x: f64) -> u8 {
        if x.is_nan() {
            return 0;
        }
        // ±∞ → the ends (`as` saturates), then clamped.
        let bucket = ((x - self.lo) * self.buckets_per_unit) as i64;
        let bucket = bucket.clamp(0, self.guess.len() as i64 - 1) as usize;
        let mut rank = usize::from(self.guess[bucket]);
        while rank < self.cuts.len() && self.cuts[rank] < x {
            rank += 1;
        }
        while rank > 0 && self.cuts[rank - 1] >= x {
            rank -= 1;
        }
        rank as u8
    }
}

/// The leaves a row going right at node `n` (level order) of a complete
/// tree of `depth` can still end in: all but those of `n`'s left subtree.
fn keeps_right(n: usize, depth: usize) -> u32 {
    let level = (n + 1).ilog2() as usize;
    let position = n + 1 - (1 << level);
    let left_leaves = 1u32 << (depth - level - 1);
    let first = position << (depth - level);
    !(((1u32 << left_leaves) - 1) << first)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use linfa::prelude::*;
    use ndarray::{Array1, Array2};

    use proptest::prelude::*;

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

    /// Every row gets the trees' own answer, bit for bit: the training
    /// rows (values on the thresholds' neighbours), the thresholds
    /// themselves, ±∞ and NaN, and rows too short (missing features read
    /// as +∞).
    fn check_same_leaves(gbm: &Gbm, x: &Array2<f64>) {
        let ranked = RankedGbm::new(gbm).expect("fits");
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
        let short: Vec<f64> = rows.chunks_exact(6).flat_map(|r| r[..4].to_vec()).collect();
        ranked.predict_rows(&short, 4, &mut out);
        for (row, got) in short.chunks_exact(4).zip(&out) {
            assert_eq!(got.to_bits(), gbm.predict_row(row).to_bits());
        }
    }

    #[test]
    fn guessed_ranks_are_the_binary_search_ones() {
        let mut rng = SplitMix64::new(11);
        let specials = [
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0e300,
            -0.0,
            0.0,
            1.0e-300,
            1.0e300,
            f64::MAX,
            f64::INFINITY,
        ];
        for case in 0..200 {
            // Uniform, skewed (a cluster and a far outlier), with and
            // without the special values, from 0 to MAX_CUTS cuts.
            let n = (rng.next_f64() * MAX_CUTS as f64) as usize;
            let mut cuts: Vec<f64> = (0..n)
                .map(|_| {
                    let u = rng.next_f64();
                    match case % 3 {
                        0 => u * 100.0 - 50.0,
                        1 => u.powi(8) * 1.0e4,
                        _ => (u * 6.0).round() / 2.0,
                    }
                })
                .collect();
            if case % 2 == 0 {
                cuts.extend(specials);
            }
            if case % 50 == 0 {
                // Only cuts the table leaves out: no table at all.
                cuts = vec![f64::NEG_INFINITY, f64::MIN, f64::MAX, f64::INFINITY];
            }
            cuts.sort_by(f64::total_cmp);
            cuts.dedup_by(|a, b| a.total_cmp(b).is_eq());
            cuts.truncate(MAX_CUTS);
            let table = Cuts::new(cuts.clone());
            let mut xs: Vec<f64> = cuts
                .iter()
                .flat_map(|&c| {
                    [
                        c,
                        f64::from_bits(c.to_bits().wrapping_add(1)),
                        f64::from_bits(c.to_bits().wrapping_sub(1)),
                    ]
                })
                .collect();
            xs.extend((0..500).map(|_| rng.next_f64() * 300.0 - 150.0));
            xs.extend(specials);
            xs.push(f64::NAN);
            for x in xs {
                let expected = cuts.partition_point(|&c| c < x);
                assert_eq!(usize::from(table.rank(x)), expected, "x {x:e}, case {case}");
            }
        }
    }

    #[test]
    fn same_leaves_as_the_trees() {
        for depth in 1..=DEPTH {
            let (gbm, x) = model(depth, 6, 203);
            check_same_leaves(&gbm, &x);
        }
    }

    #[test]
    fn a_right_turn_keeps_all_but_the_left_subtree() {
        // Depth 2: leaves 0 1 | 2 3; node 0's left subtree is {0, 1},
        // node 1's {0}, node 2's {2}.
        assert_eq!(keeps_right(0, 2), !0b0011);
        assert_eq!(keeps_right(1, 2), !0b0001);
        assert_eq!(keeps_right(2, 2), !0b0100);
        // Every node of every depth against the walk of `Gbm::predict_row`:
        // a leaf is dropped exactly when its walk goes left at the node.
        for depth in 1..=DEPTH {
            let internal = (1usize << depth) - 1;
            for n in 0..internal {
                let mut expected = u32::MAX;
                for leaf in 0..1usize << depth {
                    // The walk to `leaf`: its bits from the top, 1 = right.
                    let mut i = 0;
                    for level in (0..depth).rev() {
                        let right = (leaf >> level) & 1;
                        if i == n && right == 0 {
                            expected &= !(1 << leaf);
                        }
                        i = 2 * i + 1 + right;
                    }
                    assert_eq!(i - internal, leaf);
                }
                assert_eq!(keeps_right(n, depth), expected, "node {n}, depth {depth}");
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
        wide.split_feature[0] = (WIDTH - 1) as u16;
        wide.n_features = WIDTH;
        assert!(RankedGbm::new(&wide).is_some());
        let (mut nan, _) = model(3, 6, 100);
        nan.split_threshold[0] = f64::NAN;
        assert!(RankedGbm::new(&nan).is_none());
    }

    /// One tree per threshold, each splitting feature 0 there: `cuts`
    /// distinct thresholds.
    fn many_cuts(cuts: usize) -> Gbm {
        Gbm {
            n_features: 1,
            depth: 1,
            base: 0.5,
            split_feature: vec![0; cuts],
            split_threshold: (0..cuts).map(|k| k as f64).collect(),
            leaf_value: (0..2 * cuts).map(|k| (k % 7) as f64 - 3.0).collect(),
            feature_gain: vec![0.0],
        }
    }

    #[test]
    fn as_many_cuts_as_a_byte_ranks_and_no_more() {
        let gbm = many_cuts(MAX_CUTS);
        let ranked = RankedGbm::new(&gbm).expect("fits");
        let rows: Vec<f64> = (-2..=2 * MAX_CUTS as i32 + 2)
            .map(|k| f64::from(k) / 2.0)
            .chain([f64::INFINITY, f64::NEG_INFINITY, f64::NAN])
            .collect();
        let mut out = vec![0.0; rows.len()];
        ranked.predict_rows(&rows, 1, &mut out);
        for (x, got) in rows.iter().zip(&out) {
            assert_eq!(got.to_bits(), gbm.predict_row(&[*x]).to_bits(), "{x}");
        }
        assert!(RankedGbm::new(&many_cuts(MAX_CUTS + 1)).is_none());
    }

    /// A value from a small set (so rows hit thresholds exactly), or ±∞,
    /// NaN, −0, f64::MAX (the non-split marker).
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => (-6i32..=6).prop_map(|k| f64::from(k) / 2.0),
            1 => Just(-0.0),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(f64::NAN),
            1 => Just(f64::MAX),
        ]
    }

    /// Trees of any shape, not only trained ones: every node a random
    /// feature and threshold, some not splitting (f64::MAX).
    fn arb_gbm() -> impl Strategy<Value = Gbm> {
        (1..=DEPTH, 1usize..12, 1usize..5).prop_flat_map(|(depth, trees, features)| {
            let internal = ((1usize << depth) - 1) * trees;
            let threshold = prop_oneof![
                6 => (-6i32..=6).prop_map(|k| f64::from(k) / 2.0 + 0.25),
                1 => (-6i32..=6).prop_map(|k| f64::from(k) / 2.0),
                1 => Just(-0.0),
                1 => Just(f64::MAX),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
            ];
            (
                proptest::collection::vec(0..features as u16, internal),
                proptest::collection::vec(threshold, internal),
                proptest::collection::vec(-10.0f64..10.0, trees << depth),
                -5.0f64..5.0,
            )
                .prop_map(move |(split_feature, split_threshold, leaf_value, base)| {
                    Gbm {
                        n_features: features,
                        depth,
                        base,
                        split_feature,
                        split_threshold,
                        leaf_value,
                        feature_gain: vec![0.0; features],
                    }
                })
        })
    }

    proptest! {
        #[test]
        fn any_trees_any_rows_bit_for_bit(
            gbm in arb_gbm(),
            values in proptest::collection::vec(value(), 0..1200),
            short_by in 0usize..3,
        ) {
            // Rows may be shorter than the features (those read as +∞).
            let stride = gbm.n_features.saturating_sub(short_by).max(1);
            let rows = values.len() / stride;
            let ranked = RankedGbm::new(&gbm).expect("fits");
            let mut out = vec![0.0; rows];
            ranked.predict_rows(&values, stride, &mut out);
            for (row, got) in values.chunks_exact(stride).zip(&out) {
                prop_assert_eq!(got.to_bits(), gbm.predict_row(row).to_bits(), "{:?}", row);
            }
        }
    }
}
