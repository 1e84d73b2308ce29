//! The cells of a disk around a site with their local IJ coordinates, and
//! the distance and bearing from the site to every cell centre,
//! interpolated on H3's local IJ grid instead of converted cell by cell.
//!
//! # The cells and their IJ
//!
//! h3o's cell → local IJ conversion walks every digit of the index
//! (≈ 0.9 k instructions a cell). The cells here are instead the children
//! of a grid disk one resolution coarser: only the parents (1/7 as many)
//! are converted. Within one base cell that is not a pentagon, h3o's local
//! IJK of a child is the parent's scaled by one aperture-7 step plus the
//! unit vector of the child's digit, rotated by a fixed amount for that
//! base cell (h3o rotates the index into the origin's base cell, then adds
//! a base-cell offset that scales with the same aperture step). So each
//! base cell's seven digit offsets are learned once, from one parent's
//! children converted by h3o, and every other child's IJ follows exactly.
//! Pentagon base cells (where h3o's rotations depend on the leading digit)
//! are converted child by child.
//!
//! # The centres
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

use h3o::{BaseCell, CellIndex, CoordIJ, LocalIJ, Resolution};

/// Cells between anchors along i and j.
const SPACING: i32 = 8;
/// Largest miss of the interpolation at a square's middle cell, m.
const TOLERANCE_M: f64 = 1e-6;

/// Cells around an origin cell with their local IJ coordinates relative to
/// it (`None` where h3o has none).
pub(crate) struct Disk {
    pub(crate) cells: Vec<CellIndex>,
    pub(crate) ij: Vec<Option<(i32, i32)>>,
}

impl Disk {
    fn with_capacity(n: usize) -> Self {
        Self {
            cells: Vec::with_capacity(n),
            ij: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, cell: CellIndex, ij: Option<(i32, i32)>) {
        self.cells.push(cell);
        self.ij.push(ij);
    }

    /// Every cell of `origin`'s resolution whose centre lies within the
    /// inradius of `origin`'s grid disk of `rings` (rings·s·√3/2 from its
    /// centre, s the centre spacing), and more: the children of the grid
    /// disk around `origin`'s parent whose inradius is 2 parent spacings
    /// (≈ 4.6 s) larger, parent by parent in h3o's grid-disk order, each
    /// parent's children in digit order. At resolution 0 (no parent),
    /// `origin`'s own grid disk of `rings`.
    pub(crate) fn around(origin: CellIndex, rings: u32) -> Self {
        let res = origin.resolution();
        let Some(origin_parent) = res.pred().and_then(|r| origin.parent(r)) else {
            let cells = origin.grid_disk::<Vec<_>>(rings);
            let ij = cells.iter().map(|&c| local_ij(c, origin)).collect();
            return Self { cells, ij };
        };
        // A parent ring is √7 child spacings wide; 2 more rings (≈ 4.6 child
        // spacings) cover the children's offsets from their parents'
        // centres (one spacing) and the origin's from its parent's. (The
        // parent disk, a hexagon turned by 19° against the child grid's,
        // need not hold the corners of the child grid disk of `rings`.)
        let parent_rings = (f64::from(rings) / 7f64.sqrt()).ceil() as u32 + 2;
        let parents = origin_parent.grid_disk::<Vec<_>>(parent_rings);
        let mut disk = Self::with_capacity(parents.len() * 7);
        // Per base cell met: each digit's IJ offset from the parent's scaled
        // IJ (`None`: convert that base cell's cells one by one).
        let mut offsets: Vec<(BaseCell, Option<DigitOffsets>)> = Vec::new();
        let origin_on_pentagon = origin.base_cell().is_pentagon();
        for parent in parents {
            let base = parent.base_cell();
            let fast = if origin_on_pentagon || base.is_pentagon() {
                None
            } else {
                parent.to_local_ij(origin_parent).ok().and_then(|p| {
                    let centre = down_aperture7((p.coord.i, p.coord.j), res);
                    let k = match offsets.iter().position(|&(b, _)| b == base) {
                        Some(k) => k,
                        None => {
                            offsets.push((base, learn_offsets(parent, centre, origin)));
                            offsets.len() - 1
                        }
                    };
                    offsets[k].1.map(|offset| (centre, offset))
                })
            };
            match fast {
                Some((centre, offset)) => {
                    for child in parent.children(res) {
                        let (di, dj) = offset[digit(child, res)];
                        disk.push(child, Some((centre.0 + di, centre.1 + dj)));
                    }
                }
                None => {
                    for child in parent.children(res) {
                        disk.push(child, local_ij(child, origin));
                    }
                }
            }
        }
        disk
    }
}

/// The IJ offset of each digit's child from its parent's scaled IJ.
type DigitOffsets = [(i32, i32); 7];

/// h3o's local IJ of `cell` relative to `origin`.
fn local_ij(cell: CellIndex, origin: CellIndex) -> Option<(i32, i32)> {
    cell.to_local_ij(origin)
        .ok()
        .map(|l| (l.coord.i, l.coord.j))
}

/// The digit of `cell` at its own resolution `res` (≥ 1).
fn digit(cell: CellIndex, res: Resolution) -> usize {
    cell.direction_at(res)
        .map_or(0, |d| usize::from(u8::from(d)))
}

/// The IJ at resolution `res` of the centre child of the cell at `(i, j)`
/// one resolution coarser: h3o's aperture-7 step (counter-clockwise into
/// Class III resolutions, clockwise into Class II), in IJ (k = 0) form.
fn down_aperture7((i, j): (i32, i32), res: Resolution) -> (i32, i32) {
    if res.is_class3() {
        // i·(3, 0, 1) + j·(1, 3, 0) = (3i + j, 3j, i) → IJ (minus k).
        (2 * i + j, 3 * j - i)
    } else {
        // i·(3, 1, 0) + j·(0, 3, 1) = (3i, i + 3j, j) → IJ (minus k).
        (3 * i - j, i + 2 * j)
    }
}

/// Each digit's IJ offset from `centre` (the scaled IJ of `parent`), from
/// `parent`'s children converted by h3o; `None` unless all seven convert.
fn learn_offsets(parent: CellIndex, centre: (i32, i32), origin: CellIndex) -> Option<DigitOffsets> {
    let res = origin.resolution();
    let mut offsets = [(0, 0); 7];
    let mut found = 0;
    for child in parent.children(res) {
        let (i, j) = local_ij(child, origin)?;
        offsets[digit(child, res)] = (i - centre.0, j - centre.1);
        found += 1;
    }
    (found == 7).then_some(offsets)
}

/// The direction from the site to a cell centre: its bearing, or the
/// azimuthal coordinates (east, north) whose `atan2` is the bearing. The
/// `atan2` is left to the caller, who may not need it (cells beyond the
/// radius) or may need only which sector it falls in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Direction {
    Bearing(f64),
    Xy(f64, f64),
}

impl Direction {
    /// The bearing, rad in 0..τ.
    pub(crate) fn bearing_rad(self) -> f64 {
        match self {
            Self::Bearing(bearing) => bearing,
            // atan2 is in −π..=π: adding τ below 0 is `rem_euclid(τ)` (bit
            // for bit) without its `fmod` call.
            Self::Xy(x, y) => {
                let bearing = x.atan2(y);
                if bearing < 0.0 {
                    bearing + std::f64::consts::TAU
                } else {
                    bearing
                }
            }
        }
    }
}

/// (distance m, direction) from the site to the centre of each cell of
/// `disk` (around `origin`), in the disk's order, with `exact` the
/// conversion of one cell to (distance m, bearing rad in 0..τ). An
/// iterator: the caller keeps a cell's answer or drops it, so ~100,000
/// answers are not stored (and their pages not faulted in) first.
pub(crate) fn polar_centres<'a>(
    disk: &'a Disk,
    origin: CellIndex,
    exact: impl Fn(CellIndex) -> (f64, f64) + 'a,
) -> impl Iterator<Item = (f64, Direction)> + 'a {
    let grid = Anchors::around(&disk.ij, origin, &exact);
    disk.cells.iter().zip(&disk.ij).map(move |(&cell, ij)| {
        ij.zip(grid.as_ref())
            .and_then(|((i, j), grid)| grid.interpolate(i, j))
            .map_or_else(
                || {
                    let (d, bearing) = exact(cell);
                    (d, Direction::Bearing(bearing))
                },
                to_polar,
            )
    })
}

/// Exact azimuthal coordinates (east, north) = (d·sin θ, d·cos θ), m.
fn to_xy((d, bearing): (f64, f64)) -> (f64, f64) {
    let (sin, cos) = bearing.sin_cos();
    (d * sin, d * cos)
}

fn to_polar((x, y): (f64, f64)) -> (f64, Direction) {
    // No overflow at these sizes: the plain root, not the slower `hypot`.
    ((x * x + y * y).sqrt(), Direction::Xy(x, y))
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
    /// (x, y) of each anchor, NaN where h3o has no cell there (a square
    /// that needs such an anchor fails its check).
    xy: Vec<(f64, f64)>,
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
        // Only the anchors of squares that hold a cell: the disk is a hexagon
        // in IJ, and its bounding parallelogram has about twice the squares.
        // (a − a0 ≥ 1 and b − b0 ≥ 1: the first anchor of any square is in
        // the grid.)
        let mut occupied = vec![false; rows * cols];
        let mut needed = vec![false; rows * cols];
        for (a, b) in squares {
            let (r, c) = ((a - a0) as usize, (b - b0) as usize);
            if std::mem::replace(&mut occupied[r * cols + c], true) {
                continue;
            }
            let first = (r - 1) * cols + c - 1;
            for row in needed[first..].chunks_mut(cols).take(4) {
                row[..4].fill(true);
            }
        }
        let mut xy = Vec::with_capacity(rows * cols);
        for a in 0..rows as i32 {
            for b in 0..cols as i32 {
                let p = if needed[a as usize * cols + b as usize] {
                    at((a0 + a) * SPACING, (b0 + b) * SPACING)
                } else {
                    None
                };
                xy.push(p.unwrap_or((f64::NAN, f64::NAN)));
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
        for k in (0..rows * cols).filter(|&k| occupied[k]) {
            // k < rows·cols: both fit an i32 (rows and cols came from i32s).
            let (a, b) = (a0 + (k / cols) as i32, b0 + (k % cols) as i32);
            let (i, j) = (a * SPACING + SPACING / 2, b * SPACING + SPACING / 2);
            // A missing anchor makes `p` NaN: the comparison fails.
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
    /// anchors around its square (NaN if one is missing; `None` if they are
    /// not all in the grid).
    fn interpolate_xy(&self, i: i32, j: i32) -> Option<(f64, f64)> {
        let (a, b) = (i.div_euclid(SPACING), j.div_euclid(SPACING));
        // Anchors a − 1 ..= a + 2 by b − 1 ..= b + 2: the first and the last
        // in the grid means all are; row r starts `cols` after row r − 1.
        let first = self.index(a - 1, b - 1)?;
        self.index(a + 2, b + 2)?;
        // rem_euclid is in 0..SPACING: a valid index.
        let wa = self.weights[i.rem_euclid(SPACING) as usize];
        let wb = self.weights[j.rem_euclid(SPACING) as usize];
        let (mut x, mut y) = (0.0, 0.0);
        for (row, wa) in self.xy[first..].chunks(self.cols).zip(wa) {
            for (&(px, py), wb) in row[..4].iter().zip(wb) {
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
        let disk = Disk::around(origin, rings);
        let exact = exact_from(site);
        let got: Vec<_> = polar_centres(&disk, origin, &exact).collect();
        let (mut dd, mut db) = (0.0f64, 0.0f64);
        for (&cell, &(d, direction)) in disk.cells.iter().zip(&got) {
            let b = direction.bearing_rad();
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

    #[test]
    fn across_base_cells_and_face_edges_too() {
        // Sites just inside every corner of every base cell: disks that
        // reach into neighbouring base cells (each with its own rotation)
        // and, at some, across an icosahedron edge.
        let mut faces_crossed = 0;
        for site in sites_inside_base_cell_corners() {
            let origin = site.to_cell(Resolution::Ten);
            let disk = Disk::around(origin, 25);
            let faces: std::collections::HashSet<_> = disk
                .cells
                .iter()
                .step_by(7)
                .flat_map(|&c| c.icosahedron_faces().iter())
                .collect();
            if faces.len() > 1 {
                faces_crossed += 1;
                let (dd, db) = worst(site, 25);
                assert!(dd < 1e-5 && db < 1e-8, "{site}: {dd} m, {db} rad");
            }
        }
        assert!(faces_crossed > 50, "{faces_crossed}");
    }

    /// A site just inside every corner of every base cell: disks around
    /// them reach into neighbouring base cells (each with its own
    /// rotation) and, at some, across an icosahedron edge.
    fn sites_inside_base_cell_corners() -> Vec<LatLng> {
        let mut sites = Vec::new();
        for base in CellIndex::base_cells() {
            let centre = LatLng::from(base);
            for corner in base.boundary().iter() {
                sites.push(
                    LatLng::new(
                        corner.lat() + 0.002 * (centre.lat() - corner.lat()),
                        corner.lng() + 0.002 * (centre.lng() - corner.lng()),
                    )
                    .unwrap(),
                );
            }
        }
        sites
    }

    /// The disk's cells and IJ against h3o's: every cell once, each cell's
    /// IJ as h3o converts it, and every cell whose centre is within the
    /// inradius of h3o's grid disk of `rings` there.
    fn check_disk(origin: CellIndex, rings: u32) {
        let disk = Disk::around(origin, rings);
        let mut seen = std::collections::HashSet::new();
        for (&cell, &ij) in disk.cells.iter().zip(&disk.ij) {
            assert!(seen.insert(cell), "{origin}: {cell} twice");
            assert_eq!(cell.resolution(), origin.resolution());
            assert_eq!(ij, local_ij(cell, origin), "{origin}: {cell}");
        }
        let centre = LatLng::from(origin);
        let spacing = origin
            .grid_disk::<Vec<_>>(1)
            .into_iter()
            .filter(|&c| c != origin)
            .map(|c| centre.distance_m(LatLng::from(c)))
            .fold(f64::INFINITY, f64::min);
        let inradius = f64::from(rings) * spacing * 3f64.sqrt() / 2.0;
        let mut inside = 0;
        for cell in origin.grid_disk::<Vec<_>>(rings + 2) {
            if centre.distance_m(LatLng::from(cell)) <= inradius {
                inside += 1;
                assert!(seen.contains(&cell), "{origin}: {cell} missing");
            }
        }
        assert!(inside > 0);
    }

    #[test]
    fn disk_ij_is_h3os() {
        // Sites over the whole globe (a Fibonacci lattice), at a Class II
        // (10) and a Class III (9) resolution, and a coarse one (3, where
        // the disk spans many base cells).
        let n = 400;
        for k in 0..n {
            let lat = (1.0 - 2.0 * (f64::from(k) + 0.5) / f64::from(n))
                .asin()
                .to_degrees();
            let lng = (f64::from(k) * 137.507_764_05) % 360.0 - 180.0;
            let site = LatLng::new(lat, lng).unwrap();
            check_disk(site.to_cell(Resolution::Ten), 12);
            check_disk(site.to_cell(Resolution::Nine), 12);
            if k % 10 == 0 {
                check_disk(site.to_cell(Resolution::Three), 6);
            }
        }
        // A coverage-sized disk (20 km at res 10).
        check_disk(
            LatLng::new(48.3985, 9.9918)
                .unwrap()
                .to_cell(Resolution::Ten),
            180,
        );
        // Resolution 0 (no parent): h3o's grid disk itself.
        check_disk(
            LatLng::new(48.4, 10.0).unwrap().to_cell(Resolution::Zero),
            2,
        );
    }

    #[test]
    fn disk_ij_is_h3os_near_pentagons_and_base_cell_edges() {
        for pentagon in Resolution::Ten.pentagons() {
            check_disk(pentagon, 15);
            check_disk(pentagon.grid_disk::<Vec<_>>(40)[3_000], 15);
        }
        for site in sites_inside_base_cell_corners() {
            check_disk(site.to_cell(Resolution::Ten), 15);
        }
    }
}
