//! Geographic problems: demand as H3 cells, sites at latitude/longitude,
//! coverage as per-site lists of (cell, probability) from a propagation model.
//!
//! The solver works on a plane (spacing, forbidden areas, distances to
//! existing sites), so sites are placed with a local equirectangular
//! projection around the study area: within a few tens of kilometres its
//! distance error is far below the 345 m spacing rule's resolution.

use std::collections::HashMap;

use geo::{ConvexHull, MultiPoint, Point, Polygon};
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::EARTH_RADIUS_M;

use crate::{CoverageMatrix, Error, Result};

/// A local plane around `origin`: x east, y north, metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalProjection {
    lat0_deg: f64,
    lon0_deg: f64,
    cos_lat0: f64,
}

impl LocalProjection {
    /// The plane tangent at (`lat_deg`, `lon_deg`).
    #[must_use]
    pub fn new(lat_deg: f64, lon_deg: f64) -> Self {
        Self {
            lat0_deg: lat_deg,
            lon0_deg: lon_deg,
            cos_lat0: lat_deg.to_radians().cos(),
        }
    }

    /// The plane around the mean of `points` (lat, lon in degrees); `None` for no points.
    #[must_use]
    pub fn around(points: &[(f64, f64)]) -> Option<Self> {
        if points.is_empty() {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let n = points.len() as f64;
        let lat = points.iter().map(|p| p.0).sum::<f64>() / n;
        let lon = points.iter().map(|p| p.1).sum::<f64>() / n;
        Some(Self::new(lat, lon))
    }

    /// (x, y) in metres of (`lat_deg`, `lon_deg`).
    #[must_use]
    pub fn to_xy_m(&self, lat_deg: f64, lon_deg: f64) -> (f64, f64) {
        let x = (lon_deg - self.lon0_deg).to_radians() * self.cos_lat0 * EARTH_RADIUS_M;
        let y = (lat_deg - self.lat0_deg).to_radians() * EARTH_RADIUS_M;
        (x, y)
    }
}

/// Every cell at `resolution` whose centre lies inside the convex hull of
/// `points` (lat, lon in degrees), in ascending cell order. Fewer than three
/// distinct points (no area) give the cells of the points themselves.
///
/// # Errors
/// [`Error::Parameter`] for a point that is not a valid latitude/longitude.
pub fn cells_in_hull(points: &[(f64, f64)], resolution: Resolution) -> Result<Vec<CellIndex>> {
    let mut own_cells = Vec::with_capacity(points.len());
    for &(lat, lon) in points {
        if let Some(problem) = hexcover_core::lat_lon_problem(lat, lon) {
            return Err(Error::Parameter(format!("point ({lat}, {lon}): {problem}")));
        }
        let at = LatLng::new(lat, lon)
            .map_err(|e| Error::Parameter(format!("point ({lat}, {lon}): {e}")))?;
        own_cells.push(at.to_cell(resolution));
    }
    let hull: Polygon = MultiPoint::from(
        points
            .iter()
            .map(|&(lat, lon)| Point::new(lon, lat))
            .collect::<Vec<_>>(),
    )
    .convex_hull();
    let mut tiler = TilerBuilder::new(resolution)
        .containment_mode(ContainmentMode::ContainsCentroid)
        .build();
    let mut cells: Vec<CellIndex> = match tiler.add(hull) {
        Ok(()) => tiler.into_coverage().collect(),
        // A degenerate hull (a point or a line) has no area to tile.
        Err(_) => Vec::new(),
    };
    if cells.is_empty() {
        cells = own_cells;
    }
    cells.sort_unstable();
    cells.dedup();
    Ok(cells)
}

/// One site's list as sorted (demand index, probability): cells that are not
/// demand are dropped, a cell listed twice keeps its larger probability.
fn site_row(index: &HashMap<CellIndex, u32>, cells: &[(CellIndex, f32)]) -> Vec<(u32, f32)> {
    let mut row: HashMap<u32, f32> = HashMap::new();
    for &(cell, p) in cells {
        if p <= 0.0 {
            continue;
        }
        if let Some(&i) = index.get(&cell) {
            let entry = row.entry(i).or_insert(p);
            *entry = entry.max(p);
        }
    }
    let mut row: Vec<(u32, f32)> = row.into_iter().collect();
    row.sort_unstable_by_key(|&(i, _)| i);
    row
}

fn demand_index(demand: &[CellIndex]) -> HashMap<CellIndex, u32> {
    demand
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, u32::try_from(i).unwrap_or(u32::MAX)))
        .collect()
}

/// The coverage matrix of sites over `demand` cells: `site_cells[j]` lists
/// (cell, probability) pairs for site `j`; cells that are not demand are
/// dropped, a cell listed twice keeps its larger probability.
///
/// # Errors
/// As [`CoverageMatrix::from_rows`] (probabilities above 1 or not finite).
pub fn coverage_over_cells(
    demand: &[CellIndex],
    site_cells: &[Vec<(CellIndex, f32)>],
) -> Result<CoverageMatrix> {
    let index = demand_index(demand);
    let rows = site_cells
        .iter()
        .map(|cells| site_row(&index, cells))
        .collect();
    CoverageMatrix::from_rows(demand.len(), rows)
}

/// P(a device in each demand cell is heard by at least one of the sites):
/// `1 − Π (1 − p)` over the sites (each site's cell once, its larger
/// probability), 0 where none reaches.
#[must_use]
pub fn combined_probability(
    demand: &[CellIndex],
    site_cells: &[Vec<(CellIndex, f32)>],
) -> Vec<f64> {
    let index = demand_index(demand);
    let mut miss = vec![1.0f64; demand.len()];
    for cells in site_cells {
        for (i, p) in site_row(&index, cells) {
            miss[i as usize] *= 1.0 - f64::from(p.min(1.0));
        }
    }
    miss.into_iter().map(|m| 1.0 - m).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_projection_keeps_distances_near_the_origin() {
        let proj = LocalProjection::new(48.4, 10.0);
        let (x, y) = proj.to_xy_m(48.4, 10.0);
        assert!(x.abs() < 1e-9 && y.abs() < 1e-9);
        // 0.01° of latitude is 1.112 km; of longitude at 48.4° N, 0.738 km.
        let (_, y) = proj.to_xy_m(48.41, 10.0);
        assert!((y - 1111.95).abs() < 0.5, "{y}");
        let (x, _) = proj.to_xy_m(48.4, 10.01);
        assert!((x - 738.6).abs() < 1.0, "{x}");
    }

    #[test]
    fn hull_cells_have_their_centres_inside_and_fill_it() {
        let corners = [
            (48.38, 9.95),
            (48.38, 10.05),
            (48.42, 10.05),
            (48.42, 9.95),
            (48.40, 10.0),
        ];
        let cells = cells_in_hull(&corners, Resolution::Eight).unwrap();
        for cell in &cells {
            let c = LatLng::from(*cell);
            assert!((48.38..=48.42).contains(&c.lat()) && (9.95..=10.05).contains(&c.lng()));
        }
        // A 4.45 km × 7.38 km box is 32.8 km²; res-8 cells average 0.737 km².
        assert!((35..=55).contains(&cells.len()), "{}", cells.len());
        // Two points: no area, their own cells.
        let two = cells_in_hull(&[(48.38, 9.95), (48.42, 10.05)], Resolution::Eight).unwrap();
        assert_eq!(two.len(), 2);
        assert!(cells_in_hull(&[(95.0, 0.0)], Resolution::Eight).is_err());
    }

    #[test]
    fn coverage_keeps_demand_cells_only_and_combines_probabilities() {
        let a = LatLng::new(48.40, 10.0).unwrap().to_cell(Resolution::Nine);
        let b = LatLng::new(48.41, 10.0).unwrap().to_cell(Resolution::Nine);
        let elsewhere = LatLng::new(48.50, 10.0).unwrap().to_cell(Resolution::Nine);
        let demand = vec![a, b];
        let sites = vec![
            vec![(a, 0.5), (elsewhere, 0.9), (a, 0.6)],
            vec![(a, 0.5), (b, 0.2)],
        ];
        let coverage = coverage_over_cells(&demand, &sites).unwrap();
        assert_eq!(coverage.row(0), (&[0u32][..], &[0.6f32][..]));
        assert_eq!(coverage.nnz(), 3);
        let p = combined_probability(&demand, &sites);
        // a: site 0 once at 0.6, site 1 at 0.5: 1 − 0.4 × 0.5 = 0.8; b: 0.2.
        assert!(
            (p[0] - 0.8).abs() < 1e-6 && (p[1] - 0.2).abs() < 1e-6,
            "{p:?}"
        );
    }
}
