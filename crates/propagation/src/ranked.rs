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
    /// Every tree's node tests, tree after tree, level order; tree t's are
    /// `tests[t × nodes..(t + 1) × nodes]`.
    tests: Vec<Test>,
    nodes: usize,
    /// The same without the nodes that do not split (threshold `f64::MAX`:
    /// only +∞ goes right), tree t's from `split_starts[t]` to
    /// `split_starts[t + 1]`: a block of rows without +∞ needs only these.
    /// (Trees grown with a minimum leaf size have many such nodes: 30 % of
    /// Ulm's.)
    split_tests: Vec<Test>,
    split_starts: Vec<usize>,
    /// Per tree, its leaves left to right (the first 2^depth used).
    leaves: Vec<[f64; 1 << DEPTH]>,
}

/// One split as a rank test: rows with `rank[feature] > rank` go right,
/// and keep only the leaves in `keep` (all but the node's left subtree's).
#[derive(Debug, Clone, Copy)]
struct Test {
    feature: u8,
    rank: u8,
    keep: u32,
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
        let tests: Vec<Test> = gbm
            .split_feature
            .iter()
            .zip(&gbm.split_threshold)
            .enumerate()
            .map(|(node, (&f, &threshold))| Test {
                feature: f as u8,
                rank: cuts[usize::from(f)].rank(threshold),
                keep: keeps_right(node % internal, depth),
            })
            .collect();
        // Thresholds are not NaN (checked above): below f64::MAX is a split
        // that finite values can take.
        let mut split_tests = Vec::new();
        let mut split_starts = vec![0];
        for (tree_tests, thresholds) in tests
            .chunks_exact(internal)
            .zip(gbm.split_threshold.chunks_exact(internal))
        {
            split_tests.extend(
                tree_tests
                    .iter()
                    .zip(thresholds)
                    .filter(|&(_, &t)| t < f64::MAX)
                    .map(|(test, _)| *test),
            );
            split_starts.push(split_tests.len());
        }
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
            nodes: internal,
            split_tests,
            split_starts,
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
            let mut infinite = false;
            for r in 0..sums.len() {
                let row = &rows[(block * BLOCK + r) * stride..][..stride];
                for (f, (column, cuts)) in columns.iter_mut().zip(&self.cuts).enumerate() {
                    let x = row.get(f).copied().unwrap_or(f64::INFINITY);
                    infinite |= x == f64::INFINITY;
                    column[r] = cuts.rank(x);
                }
            }
            // Rows of the block past `sums.len()` hold stale ranks: their
            // leaves are found and dropped.
            sums.fill(self.base);
            for (t, leaves) in self.leaves.iter().enumerate() {
                let tree_tests = if infinite {
                    &self.tests[t * self.nodes..(t + 1) * self.nodes]
                } else {
                    &self.split_tests[self.split_starts[t]..self.split_starts[t + 1]]
                };
                let mut alive = [u32::MAX; BLOCK];
                for &Test {
                    feature,
                    rank: cut,
                    keep,
                } in tree_tests
                {
                    // Copied out of the test first: read through the
                    // reference, `keep` became a gather per 16 rows.
                    let column = &columns[usize::from(feature) & (WIDTH - 1)];
                    for (alive, &rank) in alive.iter_mut().zip(column) {
                        *alive &= if rank > cut { keep } else { u32::MAX };
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

/// Buckets per cut a feature's table starts with, and the most it may
/// grow to: clustered cuts need narrower buckets to fall one or two a
/// bucket.
const BUCKETS_PER_CUT: [usize; 4] = [4, 8, 16, 32];

/// One feature's distinct split thresholds in increasing order, with a
/// table of uniform buckets between the smallest and the largest ordinary
/// cut that gives a value's rank without a branch that depends on the
/// value.
///
/// `bucket(x)` (the offset from the first bucket's start times buckets per
/// unit, truncated and clamped to the table) never decreases as x grows,
/// so a cut in an earlier bucket than x's is below x and one in a later
/// bucket is not: the rank is the number of cuts in earlier buckets plus,
/// of the (at most `most_per_bucket`) cuts in x's own bucket, those below
/// x. The cuts are padded with `most_per_bucket` × +∞ so that those
/// compares never run off the end; NaN lands in bucket 0 and is below
/// nothing (rank 0), as `partition_point` has it. A binary search over 128
/// cuts (the default `max_bins`; up to [`MAX_CUTS`]) is seven or eight
/// dependent, mispredicted steps per value; this is a multiply, a load and
/// one or two compares.
#[derive(Debug, Clone)]
struct Cuts {
    /// The cuts, then `most_per_bucket` × +∞.
    cuts: Vec<f64>,
    /// The first bucket's start and buckets per unit of the feature (0:
    /// one bucket holding every cut).
    lo: f64,
    buckets_per_unit: f64,
    /// Per bucket, the number of cuts in the buckets before it.
    below: Vec<u8>,
    /// The most cuts one bucket holds.
    most_per_bucket: usize,
}

impl Cuts {
    /// `cuts` increasing, distinct, without NaN, at most [`MAX_CUTS`].
    fn new(cuts: Vec<f64>) -> Self {
        // The table spans the ordinary cuts: not ±∞ or ±f64::MAX (nodes that
        // do not split), which would stretch every bucket; those fall in
        // the end buckets.
        let ordinary: Vec<f64> = cuts
            .iter()
            .copied()
            .filter(|c| c.abs() < f64::MAX / 4.0)
            .collect();
        // No table: one bucket, every cut compared.
        let mut best = Self::with_buckets(&cuts, 0.0, 0.0, 0);
        // Fewer than two distinct ordinary cuts, or a span too wide or too
        // narrow for the bucket width to be a finite positive number: no
        // table.
        let (Some(&lo), Some(&hi)) = (ordinary.first(), ordinary.last()) else {
            return best;
        };
        for per_cut in BUCKETS_PER_CUT {
            let buckets = ordinary.len() * per_cut;
            let per_unit = buckets as f64 / (hi - lo);
            if !(hi > lo && per_unit.is_finite() && per_unit > 0.0) {
                break;
            }
            let table = Self::with_buckets(&cuts, lo, per_unit, buckets);
            if table.most_per_bucket < best.most_per_bucket {
                best = table;
            }
            if best.most_per_bucket <= 2 {
                break;
            }
        }
        best
    }

    /// The table of `buckets` + 1 buckets from `lo`, `per_unit` a unit.
    fn with_buckets(cuts: &[f64], lo: f64, per_unit: f64, buckets: usize) -> Self {
        let mut table = Self {
            cuts: Vec::new(),
            lo,
            buckets_per_unit: per_unit,
            below: vec![0; buckets + 1],
            most_per_bucket: 0,
        };
        let mut in_bucket = vec![0usize; buckets + 1];
        for &c in cuts {
            in_bucket[table.bucket(c)] += 1;
        }
        let mut before = 0;
        for (below, &n) in table.below.iter_mut().zip(&in_bucket) {
            // At most MAX_CUTS cuts: fits a byte.
            *below = before as u8;
            before += n;
        }
        table.most_per_bucket = in_bucket.iter().copied().max().unwrap_or(0);
        table.cuts = cuts.to_vec();
        table
            .cuts
            .extend(std::iter::repeat_n(f64::INFINITY, table.most_per_bucket));
        table
    }

    /// The bucket of `x`: the ends for values beyond them (`as` saturates
    /// ±∞ and takes NaN to 0).
    #[inline]
    fn bucket(&self, x: f64) -> usize {
        let last = self.below.len().saturating_sub(1);
        (((x - self.lo) * self.buckets_per_unit) as i64).clamp(0, last as i64) as usize
    }

    /// The number of cuts below `x` (`c < x`; 0 for NaN): exactly
    /// `partition_point(|&c| c < x)`.
    #[inline]
    fn rank(&self, x: f64) -> u8 {
        let first = usize::from(self.below[self.bucket(x)]);
        let own_bucket = &self.cuts[first..first + self.most_per_bucket];
        let mut rank = first;
        for &c in own_bucket {
            rank += usize::from(c < x);
        }
        // At most MAX_CUTS: fits a byte.
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
    fn ranks_are_the_binary_search_ones() {
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
            without_infinity in any::<bool>(),
        ) {
            // Blocks without +∞ skip the nodes that do not split: make
            // such blocks common (by chance nearly every block has a +∞).
            let values: Vec<f64> = if without_infinity {
                values.iter().map(|&v| if v == f64::INFINITY { 0.5 } else { v }).collect()
            } else {
                values
            };
            // Rows may be shorter than the features (those read as +∞).
            let short_by = if without_infinity { 0 } else { short_by };
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
