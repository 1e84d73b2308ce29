//! Fixed-radius coverage on projected coordinates: the classic MCLP rule.

use rayon::prelude::*;
use rstar::{RTree, primitives::GeomWithData};

use crate::{CoverageMatrix, Result};

/// Coverage where site `j` covers demand point `i` with probability 1 iff the
/// Euclidean distance between them is at most `radius_m` (coordinates in metres).
///
/// The comparison is `sqrt(dx² + dy²) <= radius_m` on the coordinates as given,
/// the rule the shared MCLP instances define, so boundary points agree with them.
pub fn radius_coverage(
    demand_xy: &[[f64; 2]],
    site_xy: &[[f64; 2]],
    radius_m: f64,
) -> Result<CoverageMatrix> {
    if !(radius_m.is_finite() && radius_m >= 0.0) {
        return Err(crate::Error::Parameter(format!(
            "radius {radius_m} m is not a finite distance ≥ 0"
        )));
    }
    let points: Vec<GeomWithData<[f64; 2], u32>> = demand_xy
        .iter()
        .enumerate()
        .map(|(i, &xy)| GeomWithData::new(xy, i as u32))
        .collect();
    let tree = RTree::bulk_load(points);
    // Query a slightly larger circle, then apply the exact rule.
    let query_d2 = (radius_m + 1.0) * (radius_m + 1.0);
    let rows: Vec<Vec<(u32, f32)>> = site_xy
        .par_iter()
        .map(|&[x, y]| {
            tree.locate_within_distance([x, y], query_d2)
                .filter(|p| {
                    let [px, py] = *p.geom();
                    let (dx, dy) = (px - x, py - y);
                    (dx * dx + dy * dy).sqrt() <= radius_m
                })
                .map(|p| (p.data, 1.0))
                .collect::<Vec<(u32, f32)>>()
        })
        // Sorted here, on every core, so that `from_rows` finds them in order.
        .map(|mut row| {
            row.sort_unstable_by_key(|&(h, _)| h);
            row
        })
        .collect();
    CoverageMatrix::from_rows(demand_xy.len(), rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_is_inclusive() {
        let demand = [[0.0, 0.0], [3.0, 4.0], [3.0, 4.1]];
        let m = radius_coverage(&demand, &[[0.0, 0.0]], 5.0).unwrap();
        assert_eq!(m.row(0).0, &[0, 1]);
    }
}
