//! Distance and bearing from a site to every cell centre of a grid disk,
//! interpolated on H3's local IJ grid instead of converted cell by cell.
//!
//! h3o's cell → centre conversion (digits → face IJK → gnomonic inverse,
//! ≈ 0.28 µs) and the haversine after it were a third of a physics coverage
//! run. Here only every [`SPACING`]-th cell of the local IJ grid (an
//! *anchor*) is converted; the azimuthal coordinates (d·sin θ, d·cos θ) of
//! the others come from bicubic Lagrange interpolation between the 4 × 4
//! anchors around them. Those coordinates are smooth in IJ within an
//! icosahedron face (gnomonic projection, then the sphere): over anchors
//! ≈ 1 km apart the interpolation is good to ~1e-8 m.
//!
//! Where the grid is not smooth — across an icosahedron edge, near a
//! pentagon, where h3o has no local IJ — interpolation could be off by
//! more, so each square of anchors is checked at its middle cell against
//! the exact conversion, and the cells of a square that misses by more than
//! [`TOLERANCE_M`] (or that lacks an anchor or local IJ) are converted
//! exactly.

use h3o::{CellIndex, CoordIJ, LocalIJ};

/// Cells between anchors along i and j.
const SPACING: i32 = 8;
/// Largest miss of the interpolation at a square's middle cell, m.
const TOLERANCE_M: f64 = 1e-6;

/// (distance m, bearing rad in 0..τ) from the site to the centre of each
/// of `cells` (a grid disk around `origin`), with `exact` the conversion of
/// one cell.
pub(crate) fn polar_centres(
    cells: &[CellIndex],
    origin: CellIndex,
    exact: impl Fn(CellIndex) -> (f64, f64),
) -> Vec<(f64, f64)> {
    let ij: Vec<Option<(i32, i32)>> = cells
        .iter()
        .map(|c| c.to_local_ij(origin).ok().map(|l| (l.coord.i, l.coord.j)))
        .collect();
    let Some(grid) = Anchors::around(&ij, origin, &exact) else {
        return cells.iter().map(|&c| exact(c)).collect();
    };
    cells
        .iter()
        .zip(&ij)
        .map(|(&cell, ij)| {
            ij.and_then(|(i, j)| grid.interpolate(i, j))
                .map_or_else(|| exact(cell), to_polar)
        })
        .collect()
}

/// Exact azimuthal coordinates (east, north) = (d·sin θ, d·cos θ), m.
fn to_xy((d, bearing): (f64, f64)) -> (f64, f64) {
    let (sin, cos) = bearing.sin_cos();
    (d * sin, d * cos)
}

fn to_polar((x, y): (f64, f64)) -> (f64, f64) {
    // No overflow at these sizes: the plain root, not the slower `hypot`.
    (
        (x * x + y * y).sqrt(),
        x.atan2(y).rem_euclid(std::f64::consts::TAU),
    )
}

/// The anchors over the disk's IJ range, and which squares may be
/// interpolated.
struct Anchors {
    /// Square index of the first anchor row/column (anchor (a, b) sits at
    /// IJ (SPACING·(a0 + a), SPACING·(b0 + b))).
    a0: i32,
    b0: i32,
    rows: usize,
    cols: usize,
    /// (x, y) of each anchor, `None` where h3o has no cell there.
    xy: Vec<Option<(f64, f64)>>,
    /// Per square (same indexing as the anchors), whether its check passed.
    ok: Vec<bool>,
    /// Interpolation weights of each offset 0..SPACING within a square.
    weights: [[f64; 4]; SPACING as usize],
}

impl Anchors {
    fn around(
        ij: &[Option<(i32, i32)>],
        origin: CellIndex,
        exact: &impl Fn(CellIndex) -> (f64, f64),
    ) -> Option<Self> {
        let squares = ij
            .iter()
            .flatten()
            .map(|&(i, j)| (i.div_euclid(SPACING), j.div_euclid(SPACING)));
        let (mut lo, mut hi) = ((i32::MAX, i32::MAX), (i32::MIN, i32::MIN));
        for (a, b) in squares.clone() {
            lo = (lo.0.min(a), lo.1.min(b));
            hi = (hi.0.max(a), hi.1.max(b));
        }
        if lo.0 > hi.0 {
            return None;
        }
        // A square (a, b) interpolates over anchors a − 1 ..= a + 2.
        let (a0, b0) = (lo.0 - 1, lo.1 - 1);
        let rows = usize::try_from(hi.0 - lo.0 + 4).ok()?;
        let cols = usize::try_from(hi.1 - lo.1 + 4).ok()?;
        let at = |i: i32, j: i32| {
            CellIndex::try_from(LocalIJ {
                anchor: origin,
                coord: CoordIJ::new(i, j),
            })
            .ok()
            .map(|c| to_xy(exact(c)))
        };
        let mut xy = Vec::with_capacity(rows * cols);
        for a in 0..rows as i32 {
            for b in 0..cols as i32 {
                xy.push(at((a0 + a) * SPACING, (b0 + b) * SPACING));
            }
        }
        let mut grid = Self {
            a0,
            b0,
            rows,
            cols,
            xy,
            ok: vec![false; rows * cols],
            weights: std::array::from_fn(|k| lagrange_weights(k as f64 / f64::from(SPACING))),
        };
        // Check each square that holds a cell at its middle cell.
        let mut checked = vec![false; rows * cols];
        for (a, b) in squares {
            let k = grid.index(a, b)?;
            if checked[k] {
                continue;
            }
            checked[k] = true;
            let (i, j) = (a * SPACING + SPACING / 2, b * SPACING + SPACING / 2);
            grid.ok[k] = match (grid.interpolate_xy(i, j), at(i, j)) {
                (Some(p), Some(q)) => {
                    (p.0 - q.0).abs() <= TOLERANCE_M && (p.1 - q.1).abs() <= TOLERANCE_M
                }
                _ => false,
            };
        }
        Some(grid)
    }

    /// Index of square / anchor (a, b) in `xy` and `ok`.
    fn index(&self, a: i32, b: i32) -> Option<usize> {
        let (r, c) = (
            usize::try_from(a - self.a0).ok()?,
            usize::try_from(b - self.b0).ok()?,
        );
        (r < self.rows && c < self.cols).then_some(r * self.cols + c)
    }

    /// (distance, bearing) of the cell at local IJ (i, j), if its square
    /// passed its check.
    fn interpolate(&self, i: i32, j: i32) -> Option<(f64, f64)> {
        let k = self.index(i.div_euclid(SPACING), j.div_euclid(SPACING))?;
        if !self.ok[k] {
            return None;
        }
        self.interpolate_xy(i, j)
    }

    /// Bicubic Lagrange interpolation of (x, y) at (i, j) from the 4 × 4
    /// anchors around its square.
    fn interpolate_xy(&self, i: i32, j: i32) -> Option<(f64, f64)> {
        let (a, b) = (i.div_euclid(SPACING), j.div_euclid(SPACING));
        // rem_euclid is in 0..SPACING: a valid index.
        let wa = self.weights[i.rem_euclid(SPACING) as usize];
        let wb = self.weights[j.rem_euclid(SPACING) as usize];
        let (mut x, mut y) = (0.0, 0.0);
        for (da, wa) in (-1..=2).zip(wa) {
            let row = self.index(a + da, b - 1)?;
            for (db, wb) in wb.iter().enumerate() {
                let (px, py) = self.xy.get(row + db).copied().flatten()?;
                x += wa * wb * px;
                y += wa * wb * py;
            }
        }
        Some((x, y))
    }
}

/// Weights of the cubic through nodes −1, 0, 1, 2 at t.
fn lagrange_weights(t: f64) -> [f64; 4] {
    [
        -t * (t - 1.0) * (t - 2.0) / 6.0,
        (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0,
        -(t + 1.0) * t * (t - 2.0) / 2.0,
        (t + 1.0) * t * (t - 1.0) / 6.0,
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use h3o::{LatLng, Resolution};

    use super::*;

    /// Haversine distance and bearing from `site`, as coverage computes them.
    fn exact_from(site: LatLng) -> impl Fn(CellIndex) -> (f64, f64) {
        move |cell| {
            let c = LatLng::from(cell);
            let d = site.distance_m(c);
            let (p1, p2) = (site.lat_radians(), c.lat_radians());
            let dl = c.lng_radians() - site.lng_radians();
            let bearing = (dl.sin() * p2.cos())
                .atan2(p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos())
                .rem_euclid(std::f64::consts::TAU);
            (d, bearing)
        }
    }

    /// The largest distance (m) and bearing (rad) differences from the exact
    /// conversion over a disk of `rings` around the res-10 cell at `site`.
    fn worst(site: LatLng, rings: u32) -> (f64, f64) {
        let origin = site.to_cell(Resolution::Ten);
        let cells = origin.grid_disk::<Vec<_>>(rings);
        let exact = exact_from(site);
        let got = polar_centres(&cells, origin, &exact);
        let (mut dd, mut db) = (0.0f64, 0.0f64);
        for (&cell, &(d, b)) in cells.iter().zip(&got) {
            let (d0, b0) = exact(cell);
            dd = dd.max((d - d0).abs());
            let diff = (b - b0).abs();
            // Bearings near the site cell's own centre are ill-defined.
            if d0 > 1.0 {
                db = db.max(diff.min(std::f64::consts::TAU - diff));
            }
        }
        (dd, db)
    }

    #[test]
    fn interpolated_centres_match_the_exact_ones() {
        // Ulm (one face), 40 rings (≈ 5 km).
        let (dd, db) = worst(LatLng::new(48.3985, 9.9918).unwrap(), 40);
        assert!(dd < 1e-7 && db < 1e-9, "{dd} m, {db} rad");
    }

    #[test]
    fn near_a_pentagon_and_face_edges_too() {
        // Around a res-10 pentagon five faces meet: local IJ fails on some
        // cells and the grid bends between faces; those cells (most of
        // this disk) fall back to the exact conversion.
        let pentagon = Resolution::Ten.pentagons().next().unwrap();
        let near = pentagon.grid_disk::<Vec<_>>(30)[500];
        let (dd, db) = worst(LatLng::from(near), 60);
        assert!(dd < 1e-5 && db < 1e-8, "{dd} m, {db} rad");
    }
}
