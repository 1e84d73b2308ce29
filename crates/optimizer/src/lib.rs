//! Placement of new receivers (hotspots, gateways): where the next sites
//! should go to cover the most demand, under the network's rules, with a
//! proven bound on how far the answer is from the best.
//!
//! A [`Problem`] is demand points with weights, sites (candidates to choose
//! from and existing, locked ones) and a sparse [`CoverageMatrix`] of the
//! probability that each site hears each point (1 for a fixed radius). The
//! objective is expected covered demand `Σ w_h (1 − Π_j (1 − p_hj))`
//! (classic MCLP when p ∈ {0, 1}) or k-coverage. [`optimize`] runs lazy
//! greedy (CELF), swap local search and simulated annealing (argmin), and
//! reports an upper bound (Lagrangian relaxation or the submodular online
//! bound) with the gap. No IO: callers build the problem.
//!
//! ```
//! use hexcover_optimizer::{Bound, OptimizeParams, Problem, SiteSpec, optimize, radius_coverage};
//!
//! let demand = [[0.0, 0.0], [10.0, 0.0], [100.0, 0.0]];
//! let sites = [[0.0, 0.0], [5.0, 0.0], [100.0, 0.0]];
//! let coverage = radius_coverage(&demand, &sites, 6.0).unwrap();
//! let problem = Problem::new(
//!     vec!["a".into(), "b".into(), "c".into()],
//!     vec![1.0, 1.0, 3.0],
//!     vec![SiteSpec::candidate("s0", 0.0, 0.0), SiteSpec::candidate("s1", 5.0, 0.0),
//!          SiteSpec::candidate("s2", 100.0, 0.0)],
//!     coverage,
//! ).unwrap();
//! let solution = optimize(&problem, &OptimizeParams::new(2)).unwrap();
//! assert_eq!(solution.objective, 5.0);
//! let Bound::Proven { gap, .. } = solution.bound else { panic!() };
//! assert!(gap < 1e-9);
//! ```
#![warn(missing_docs)]

mod anneal;
mod bound;
mod constraints;
mod coverage;
mod density;
mod error;
mod geographic;
mod planar;
mod problem;
mod search;
mod solve;
mod state;

pub use constraints::{Area, ConstraintKind, Constraints, HELIUM_MIN_SPACING_M};
pub use coverage::CoverageMatrix;
pub use density::{DensityLevel, DensityRules};
pub use error::{Error, Result};
pub use geographic::{LocalProjection, cells_in_hull, combined_probability, coverage_over_cells};
pub use planar::radius_coverage;
pub use problem::{Problem, SiteSpec};
pub use solve::{Bound, Objective, OptimizeParams, Solution, SuggestedSite, Timings, optimize};
