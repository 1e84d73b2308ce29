//! The DEM: rasters split into windows, a window index and the look-ups.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use gdal::errors::GdalError;
use hexcover_core::{LatLon, PathProfile, Terrain};

use crate::index::WindowIndex;
use crate::raster::{Rect, WindowData, inspect, read_window};
use crate::{DemParams, Error, RasterInfo, Result};

/// File extensions (lower case) taken from a DEM folder.
const RASTER_EXTENSIONS: [&str; 5] = [".hgt", ".hgt.zip", ".tif", ".tiff", ".vrt"];

/// Tolerance, in pixels, when deciding whether a point lies within a grid's
/// sample hull: absorbs rounding of the geotransform at tile seams.
const EDGE_EPS_PX: f64 = 1e-6;

/// Samples of a profile positioned at once, then read (stack arrays).
const BULK_SAMPLES: usize = 64;

/// Great-circle knots of [`Dem::try_profile`] are at most this far apart;
/// samples between knots are interpolated linearly in latitude/longitude.
///
/// Over a 5 km chord a straight line in lat/lon departs from the great circle
/// (across and along the path together) by at most about 0.57 m · tan(lat),
/// measured over all directions: 0.63 m at 48° N, 1.0 m at 60°, 3.2 m at 80°,
/// a small fraction of a 30–90 m DEM cell. Interpolating every sample on the
/// great circle instead costs several trigonometric calls per sample.
pub const PROFILE_KNOT_SPACING_M: f64 = 5_000.0;

/// A rectangle in WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Southern edge, degrees north.
    pub south: f64,
    /// Western edge, degrees east.
    pub west: f64,
    /// Northern edge, degrees north.
    pub north: f64,
    /// Eastern edge, degrees east.
    pub east: f64,
}

impl Bounds {
    /// Bounds spanning two latitudes and two longitudes, in any order.
    pub(crate) fn from_corners(lats: (f64, f64), lons: (f64, f64)) -> Self {
        Self {
            south: lats.0.min(lats.1),
            west: lons.0.min(lons.1),
            north: lats.0.max(lats.1),
            east: lons.0.max(lons.1),
        }
    }

    /// Whether `at` lies inside or on the edge.
    #[must_use]
    pub fn contains(&self, at: LatLon) -> bool {
        at.lat >= self.south && at.lat <= self.north && at.lon >= self.west && at.lon <= self.east
    }

    fn union(self, other: Self) -> Self {
        Self {
            south: self.south.min(other.south),
            west: self.west.min(other.west),
            north: self.north.max(other.north),
            east: self.east.max(other.east),
        }
    }
}

/// The elevation at a point and whether it rests on repaired data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Ground elevation in metres above the DEM's vertical datum (EGM96 for
    /// SRTM), bilinear between the four surrounding samples.
    pub elevation_m: f64,
    /// Whether any sample the interpolation used (with non-zero weight) was a
    /// void in the raster, filled at load time.
    pub filled_void: bool,
}

/// Void counts over the windows loaded so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoidStats {
    /// Samples that were voids (nodata) in the rasters.
    pub voids: usize,
    /// How many of those were filled; the rest read as `None`.
    pub filled: usize,
}

/// A lazily loaded window of one raster.
struct Window {
    raster: usize,
    rect: Rect,
    /// Position of the centre of the window's first sample, and the inverse
    /// sample spacing: `col = (lon - lon0) * inv_dlon`.
    lon0: f64,
    lat0: f64,
    inv_dlon: f64,
    inv_dlat: f64,
    /// The last column and row, `width − 1` and `height − 1` as `f64`
    /// (taken once: the conversion is several instructions per look-up).
    last_col: f64,
    last_row: f64,
    data: OnceLock<std::result::Result<WindowData, Arc<GdalError>>>,
}

/// Where a point fell.
enum Hit {
    /// Inside a window's sample hull, at fractional column/row.
    Inside(usize, f64, f64),
    /// Within a raster's extent but outside every hull: the half-pixel rim
    /// around a raster, or the gap between rasters whose grids abut without
    /// sharing a row/column.
    Rim(usize, f64, f64),
    Outside,
}

/// Ground elevation from one or more GDAL rasters in WGS84 lon/lat: SRTM
/// `.hgt`, GeoTIFF, VRT, or a folder of such tiles read as one mosaic.
///
/// - **Grid.** A sample's value belongs to its pixel's *centre* as GDAL's
///   geotransform describes it. For SRTM `.hgt` GDAL puts the pixel edges half
///   a sample outside the tile's integer degrees, so sample centres sit on the
///   whole degrees and neighbouring tiles share their edge row/column; a
///   GeoTIFF marked pixel-is-point is shifted the same way by GDAL. Elevation
///   is bilinear between the four surrounding sample centres.
/// - **Mosaic.** Where rasters overlap, the first one (in the order given; a
///   folder's files in name order) answers. Between rasters whose grids abut
///   without sharing samples, and in the half-pixel rim outside the outermost
///   sample centres, interpolation takes the missing corners from the
///   neighbouring raster's nearest sample, or repeats the edge sample where
///   there is none. Outside every raster's extent there is no elevation.
/// - **Voids.** Samples equal to the band's nodata value (or NaN) are voids.
///   On load they are filled by inverse-distance weighting from the nearest
///   valid samples of the same raster (see [`DemParams::void_fill_radius_px`])
///   and flagged: [`Sample::filled_void`], [`Dem::is_filled_void`],
///   [`PathProfile::filled_voids`]. A void too far from valid data reads as
///   `None`, never as the nodata value.
/// - **Cache.** Rasters are opened once to read their grid; their pixels are
///   read on first touch, window by window (one window per SRTM tile), and
///   kept for the life of the `Dem`, so repeated look-ups never reopen files.
///   Memory grows with the area touched: 5.8 MB per SRTM3 tile. `Dem` is
///   `Send + Sync`; concurrent first touches of a window load it once.
/// - **Errors.** Problems found when opening (unreadable file, no
///   geotransform, a CRS other than WGS84) are errors of [`Dem::open`]. A read
///   that fails later is an error of [`Dem::sample`] and remembered; through
///   the [`Terrain`] trait it reads as `None` (and is logged once).
pub struct Dem {
    rasters: Vec<RasterInfo>,
    windows: Vec<Window>,
    index: WindowIndex,
    params: DemParams,
    extent: Bounds,
}

impl fmt::Debug for Dem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dem")
            .field("rasters", &self.rasters)
            .field("windows", &self.windows.len())
            .field("loaded_windows", &self.loaded_windows())
            .field("params", &self.params)
            .finish()
    }
}

impl Dem {
    /// Opens one raster file (any format GDAL reads: `.hgt`, GeoTIFF, VRT, …)
    /// or a folder of tiles (its `.hgt`, `.hgt.zip`, `.tif`, `.tiff` and `.vrt`
    /// files, not recursive), with default [`DemParams`].
    ///
    /// # Errors
    /// When the path cannot be read, a folder holds no raster, or a raster has
    /// no band, no usable geotransform or a CRS other than WGS84 lon/lat; the
    /// error names the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(&[path.as_ref()], DemParams::default())
    }

    /// Opens several files and/or folders as one mosaic; earlier paths win
    /// where rasters overlap.
    ///
    /// # Errors
    /// As [`Dem::open`]; also [`Error::NoInput`] for an empty list and
    /// [`Error::InvalidParams`] before any file is opened.
    pub fn open_with<P: AsRef<Path>>(paths: &[P], params: DemParams) -> Result<Self> {
        params.check()?;
        if paths.is_empty() {
            return Err(Error::NoInput);
        }
        let mut rasters = Vec::new();
        for path in paths {
            let path = path.as_ref();
            if path.is_dir() {
                let (files, siblings) = list_folder(path)?;
                let siblings: Vec<&str> = siblings.iter().map(String::as_str).collect();
                for file in files {
                    rasters.push(inspect(&file, Some(&siblings), &params)?);
                }
            } else {
                rasters.push(inspect(path, None, &params)?);
            }
        }
        Ok(Self::from_rasters(rasters, params))
    }

    fn from_rasters(rasters: Vec<RasterInfo>, params: DemParams) -> Self {
        let mut windows = Vec::new();
        let mut extents = Vec::new();
        for (r, info) in rasters.iter().enumerate() {
            let gt = &info.geo_transform;
            for (col0, width) in split(info.width, params.window_px) {
                for (row0, height) in split(info.height, params.window_px) {
                    let rect = Rect {
                        col0,
                        row0,
                        width,
                        height,
                    };
                    let lons = (
                        gt[0] + col0 as f64 * gt[1],
                        gt[0] + (col0 + width) as f64 * gt[1],
                    );
                    let lats = (
                        gt[3] + row0 as f64 * gt[5],
                        gt[3] + (row0 + height) as f64 * gt[5],
                    );
                    extents.push(Bounds::from_corners(lats, lons));
                    windows.push(Window {
                        raster: r,
                        rect,
                        lon0: info.lon_of_col(col0 as f64),
                        lat0: info.lat_of_row(row0 as f64),
                        inv_dlon: 1.0 / gt[1],
                        inv_dlat: 1.0 / gt[5],
                        last_col: (rect.width - 1) as f64,
                        last_row: (rect.height - 1) as f64,
                        data: OnceLock::new(),
                    });
                }
            }
        }
        let extent = rasters
            .iter()
            .map(|r| r.extent)
            .reduce(Bounds::union)
            .unwrap_or(Bounds {
                south: f64::NAN,
                west: f64::NAN,
                north: f64::NAN,
                east: f64::NAN,
            });
        Self {
            index: WindowIndex::build(&extents),
            rasters,
            windows,
            params,
            extent,
        }
    }

    /// The rasters, in the order they answer.
    #[must_use]
    pub fn rasters(&self) -> &[RasterInfo] {
        &self.rasters
    }

    /// The box around every raster's extent (coverage may have holes).
    #[must_use]
    pub fn extent(&self) -> Bounds {
        self.extent
    }

    /// The parameters the DEM was opened with.
    #[must_use]
    pub fn params(&self) -> DemParams {
        self.params
    }

    /// How many windows the rasters are split into (one per SRTM tile).
    #[must_use]
    pub fn window_count(&self) -> usize {
        self.windows.len()
    }

    /// How many windows have been read into memory (or failed to read).
    #[must_use]
    pub fn loaded_windows(&self) -> usize {
        self.windows
            .iter()
            .filter(|w| w.data.get().is_some())
            .count()
    }

    /// Voids found and filled in the windows loaded so far.
    #[must_use]
    pub fn void_stats(&self) -> VoidStats {
        self.windows
            .iter()
            .filter_map(|w| w.data.get()?.as_ref().ok())
            .fold(VoidStats::default(), |acc, d| VoidStats {
                voids: acc.voids + d.voids,
                filled: acc.filled + d.filled,
            })
    }

    /// Reads every window now (instead of on first touch), so that read
    /// errors and loading time come up front.
    ///
    /// # Errors
    /// The first window that cannot be read, naming its file.
    pub fn load_all(&self) -> Result<()> {
        (0..self.windows.len()).try_for_each(|w| self.data(w).map(|_| ()))
    }

    /// The elevation at `at` and whether it rests on a filled void; `None`
    /// outside coverage and on voids that could not be filled.
    ///
    /// # Errors
    /// [`Error::Read`] when the pixels of a raster needed here cannot be read.
    pub fn sample(&self, at: LatLon) -> Result<Option<Sample>> {
        self.sample_hinted(at, &mut None)
    }

    /// The elevation in metres at `at`, as [`Dem::sample`] without the flag.
    ///
    /// # Errors
    /// As [`Dem::sample`].
    pub fn try_elevation_m(&self, at: LatLon) -> Result<Option<f64>> {
        Ok(self.sample(at)?.map(|s| s.elevation_m))
    }

    /// Whether the elevation at `at` rests on a filled void (see
    /// [`Sample::filled_void`]); `false` outside coverage and where the
    /// pixels cannot be read ([`Dem::sample`] tells these apart).
    #[must_use]
    pub fn is_filled_void(&self, at: LatLon) -> bool {
        matches!(self.sample(at), Ok(Some(s)) if s.filled_void)
    }

    /// The profile from `from` to `to` with samples at most `max_step_m`
    /// apart, like [`Terrain::profile`] (same sample count and distances) but
    /// faster: positions are interpolated linearly in lat/lon between
    /// great-circle knots at most [`PROFILE_KNOT_SPACING_M`] apart (error
    /// documented there), and consecutive samples reuse the window found for
    /// the previous one. `filled_voids` counts the samples with
    /// [`Sample::filled_void`]. `None` when any sample has no elevation.
    ///
    /// # Errors
    /// As [`Dem::sample`].
    pub fn try_profile(
        &self,
        from: LatLon,
        to: LatLon,
        max_step_m: f64,
    ) -> Result<Option<PathProfile>> {
        let length_m = from.distance_m(to);
        let steps = profile_steps(length_m, max_step_m);
        let walk = Walk::new(from, to, length_m, steps);
        let mut distance_m = Vec::with_capacity(steps + 1);
        let mut elevation_m = Vec::with_capacity(steps + 1);
        let mut filled_voids = 0;
        let mut hint = None;
        for i in 0..=steps {
            let fraction = i as f64 / steps as f64;
            let at = walk.at(fraction);
            let Some(sample) = self.sample_hinted(at, &mut hint)? else {
                return Ok(None);
            };
            distance_m.push(length_m * fraction);
            elevation_m.push(sample.elevation_m);
            filled_voids += usize::from(sample.filled_void);
        }
        Ok(Some(PathProfile {
            distance_m,
            elevation_m,
            filled_voids,
        }))
    }

    /// The elevations of [`Dem::try_profile`] into `out` (cleared first),
    /// bit-identical to its `elevation_m`: `Ok(true)` when the profile
    /// exists, `Ok(false)` (and `out` unspecified) when it would be `None`.
    ///
    /// The same positions and the same bilinear arithmetic, minus what the
    /// coverage sweep does not use (distances, void flags), and with the
    /// window's pixels fetched once per run of samples in that window
    /// rather than once per sample.
    ///
    /// # Errors
    /// As [`Dem::sample`].
    pub fn try_profile_elevations(
        &self,
        from: LatLon,
        to: LatLon,
        max_step_m: f64,
        out: &mut Vec<f64>,
    ) -> Result<bool> {
        out.clear();
        let length_m = from.distance_m(to);
        let steps = profile_steps(length_m, max_step_m);
        let walk = Walk::new(from, to, length_m, steps);
        out.reserve(steps + 1);
        // At most 10⁶ steps: `u32` converts to `f64` in one instruction,
        // `usize` in several, to the same value.
        let steps = u32::try_from(steps).unwrap_or(u32::MAX);
        let at = |i: u32| walk.at(f64::from(i) / f64::from(steps));
        let mut hint = None;
        let mut i = 0;
        while i <= steps {
            match self.locate(at(i), hint) {
                Hit::Inside(w, col, row) => {
                    hint = Some(w);
                    let window = &self.windows[w];
                    let (width, height) = (window.rect.width, window.rect.height);
                    let data = self.data(w)?;
                    let finite = FiniteGrid::new(data, window);
                    let read = |col, row| match &finite {
                        Some(grid) => Some(grid.bilinear(col, row)),
                        None => bilinear(data, width, height, col, row).map(|s| s.elevation_m),
                    };
                    let Some(elevation_m) = read(col, row) else {
                        return Ok(false);
                    };
                    out.push(elevation_m);
                    i += 1;
                    // The following samples in the same window: the test
                    // `locate` makes first with the hint, then the read.
                    // Without voids, in bulk: positions first (the same
                    // arithmetic, in a loop of its own), then the reads up
                    // to the first sample outside the window.
                    if let Some(grid) = &finite {
                        let window = &self.windows[w];
                        let mut cols = [0.0; BULK_SAMPLES];
                        let mut rows = [0.0; BULK_SAMPLES];
                        while i <= steps {
                            let n = ((steps - i) as usize + 1).min(BULK_SAMPLES);
                            let (cols, rows) = (&mut cols[..n], &mut rows[..n]);
                            walk.grid_positions(i, steps, window, cols, rows);
                            let inside = cols
                                .iter()
                                .zip(rows.iter())
                                .take_while(|&(&c, &r)| self.within(w, c, r, EDGE_EPS_PX))
                                .count();
                            grid.extend_bilinear(&cols[..inside], &rows[..inside], out);
                            // At most BULK_SAMPLES: fits.
                            i += inside as u32;
                            if inside < n {
                                break;
                            }
                        }
                        continue;
                    }
                    while i <= steps {
                        let (col, row) = self.grid_position(w, at(i));
                        if !self.within(w, col, row, EDGE_EPS_PX) {
                            break;
                        }
                        let Some(elevation_m) = read(col, row) else {
                            return Ok(false);
                        };
                        out.push(elevation_m);
                        i += 1;
                    }
                }
                Hit::Rim(w, col, row) => {
                    let Some(sample) = self.sample_rim(w, col, row)? else {
                        return Ok(false);
                    };
                    out.push(sample.elevation_m);
                    i += 1;
                }
                Hit::Outside => return Ok(false),
            }
        }
        Ok(true)
    }

    /// [`Dem::sample`], trying window `hint` first and leaving the window
    /// used in it.
    fn sample_hinted(&self, at: LatLon, hint: &mut Option<usize>) -> Result<Option<Sample>> {
        match self.locate(at, *hint) {
            Hit::Inside(w, col, row) => {
                *hint = Some(w);
                let window = &self.windows[w];
                Ok(bilinear(
                    self.data(w)?,
                    window.rect.width,
                    window.rect.height,
                    col,
                    row,
                ))
            }
            Hit::Rim(w, col, row) => self.sample_rim(w, col, row),
            Hit::Outside => Ok(None),
        }
    }

    /// Fractional column and row of `at` in window `w`'s samples.
    fn grid_position(&self, w: usize, at: LatLon) -> (f64, f64) {
        let window = &self.windows[w];
        (
            (at.lon - window.lon0) * window.inv_dlon,
            (at.lat - window.lat0) * window.inv_dlat,
        )
    }

    fn within(&self, w: usize, col: f64, row: f64, margin_px: f64) -> bool {
        let window = &self.windows[w];
        col >= -margin_px
            && row >= -margin_px
            && col <= window.last_col + margin_px
            && row <= window.last_row + margin_px
    }

    fn locate(&self, at: LatLon, hint: Option<usize>) -> Hit {
        if let Some(w) = hint {
            let (col, row) = self.grid_position(w, at);
            if self.within(w, col, row, EDGE_EPS_PX) {
                return Hit::Inside(w, col, row);
            }
        }
        let candidates = self.index.candidates(at.lat, at.lon);
        for &w in candidates {
            let w = w as usize;
            let (col, row) = self.grid_position(w, at);
            if self.within(w, col, row, EDGE_EPS_PX) {
                return Hit::Inside(w, col, row);
            }
        }
        for &w in candidates {
            let w = w as usize;
            let (col, row) = self.grid_position(w, at);
            if self.within(w, col, row, 0.5 + EDGE_EPS_PX) {
                return Hit::Rim(w, col, row);
            }
        }
        Hit::Outside
    }

    /// The samples of window `w`, read on first touch.
    fn data(&self, w: usize) -> Result<&WindowData> {
        let window = &self.windows[w];
        let info = &self.rasters[window.raster];
        let state = window.data.get_or_init(|| {
            let started = std::time::Instant::now();
            let result = read_window(info, window.rect, &self.params);
            match &result {
                Ok(data) => tracing::debug!(
                    path = %info.path.display(),
                    window = ?window.rect,
                    voids = data.voids,
                    filled = data.filled,
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "DEM window loaded"
                ),
                Err(error) => tracing::warn!(
                    path = %info.path.display(),
                    %error,
                    "cannot read DEM window; its area reads as no elevation"
                ),
            }
            result
        });
        state.as_ref().map_err(|source| Error::Read {
            path: info.path.clone(),
            source: Arc::clone(source),
        })
    }

    /// Bilinear interpolation for a point in window `w`'s rim: corners outside
    /// the window come from the nearest sample of another window covering
    /// them, else from the window's own nearest edge sample.
    fn sample_rim(&self, w: usize, col: f64, row: f64) -> Result<Option<Sample>> {
        let window = &self.windows[w];
        let (width, height) = (window.rect.width as isize, window.rect.height as isize);
        let (c0, r0) = (col.floor(), row.floor());
        let (fx, fy) = (col - c0, row - r0);
        let (c0, r0) = (c0 as isize, r0 as isize);
        let corners = [
            (c0, r0, (1.0 - fx) * (1.0 - fy)),
            (c0 + 1, r0, fx * (1.0 - fy)),
            (c0, r0 + 1, (1.0 - fx) * fy),
            (c0 + 1, r0 + 1, fx * fy),
        ];
        let own = self.data(w)?;
        let mut elevation_m = 0.0;
        let mut filled_void = false;
        for (c, r, weight) in corners {
            if weight <= 0.0 {
                continue;
            }
            let (value, void) = if (0..width).contains(&c) && (0..height).contains(&r) {
                own_sample(own, window, c as usize, r as usize)
            } else {
                let centre = LatLon::new(
                    window.lat0 + r as f64 / window.inv_dlat,
                    window.lon0 + c as f64 / window.inv_dlon,
                );
                match self.nearest_elsewhere(w, centre)? {
                    Some(found) => found,
                    None => own_sample(
                        own,
                        window,
                        c.clamp(0, width - 1) as usize,
                        r.clamp(0, height - 1) as usize,
                    ),
                }
            };
            if value.is_nan() {
                return Ok(None);
            }
            elevation_m += weight * f64::from(value);
            filled_void |= void;
        }
        Ok(Some(Sample {
            elevation_m,
            filled_void,
        }))
    }

    /// The nearest sample to `at` of the first window other than `skip` whose
    /// extent holds `at`: (value, was void).
    fn nearest_elsewhere(&self, skip: usize, at: LatLon) -> Result<Option<(f32, bool)>> {
        for &w in self.index.candidates(at.lat, at.lon) {
            let w = w as usize;
            if w == skip {
                continue;
            }
            let (col, row) = self.grid_position(w, at);
            if self.within(w, col, row, 0.5 + EDGE_EPS_PX) {
                let window = &self.windows[w];
                let c = (col.round().max(0.0) as usize).min(window.rect.width - 1);
                let r = (row.round().max(0.0) as usize).min(window.rect.height - 1);
                return Ok(Some(own_sample(self.data(w)?, window, c, r)));
            }
        }
        Ok(None)
    }
}

fn own_sample(data: &WindowData, window: &Window, c: usize, r: usize) -> (f32, bool) {
    let i = r * window.rect.width + c;
    (data.values[i], data.is_void(i))
}

/// The number of steps of a profile of `length_m` with steps at most
/// `max_step_m`: the same count as the trait's default profile.
fn profile_steps(length_m: f64, max_step_m: f64) -> usize {
    if max_step_m > 0.0 && max_step_m.is_finite() {
        (length_m / max_step_m).ceil().clamp(1.0, 1.0e6) as usize
    } else {
        1
    }
}

/// A window whose values are all finite ([`WindowData::all_finite`]) and
/// that is at least 2×2, for [`bilinear`]'s elevation without its branches
/// and conversions, bit-identical:
/// - a corner of zero weight adds ±0, which leaves the sum unchanged (the
///   sum starts at +0 and so is never −0), and no value can be NaN, so all
///   four corners are added;
/// - the clamped position is within 0..=last, where `as i64` and `as usize`
///   give the same integer (and `as i64` is one instruction, `as usize` on
///   x86-64 several), and with two or more samples per side the corner
///   below the last is `c0 + 1`.
struct FiniteGrid<'a> {
    values: &'a [f32],
    width: usize,
    last_col: f64,
    last_row: f64,
    max_c0: i64,
    max_r0: i64,
}

impl<'a> FiniteGrid<'a> {
    fn new(data: &'a WindowData, window: &Window) -> Option<Self> {
        let (width, height) = (window.rect.width, window.rect.height);
        (data.all_finite && width >= 2 && height >= 2).then(|| Self {
            values: &data.values,
            width,
            last_col: window.last_col,
            last_row: window.last_row,
            max_c0: i64::try_from(width - 2).unwrap_or(i64::MAX),
            max_r0: i64::try_from(height - 2).unwrap_or(i64::MAX),
        })
    }

    /// [`bilinear`]'s elevation at fractional (`col`, `row`), clamped to the grid.
    fn bilinear(&self, col: f64, row: f64) -> f64 {
        let (top, fx, fy) = self.cell(col, row);
        weigh(self.corners(top), fx, fy)
    }

    /// The grid cell of fractional (`col`, `row`), clamped to the grid:
    /// the index of its top-left sample and the offsets from it.
    #[inline]
    fn cell(&self, col: f64, row: f64) -> (usize, f64, f64) {
        let col = col.clamp(0.0, self.last_col);
        let row = row.clamp(0.0, self.last_row);
        let c0 = (col as i64).min(self.max_c0);
        let r0 = (row as i64).min(self.max_r0);
        // Both are ≥ 0 (clamped) and below the window's size.
        let top = r0.unsigned_abs() as usize * self.width + c0.unsigned_abs() as usize;
        (top, col - c0 as f64, row - r0 as f64)
    }

    /// The four samples of the cell at `top`: upper left, upper right,
    /// lower left, lower right.
    #[inline]
    fn corners(&self, top: usize) -> [f64; 4] {
        let (upper, lower) = (
            &self.values[top..top + 2],
            &self.values[top + self.width..top + self.width + 2],
        );
        [upper[0], upper[1], lower[0], lower[1]].map(f64::from)
    }

    /// [`FiniteGrid::bilinear`] at each (`cols[j]`, `rows[j]`) (at most
    /// [`BULK_SAMPLES`]), appended to `out`: the same steps in three loops
    /// (cells, corner reads, sums), the first and last of which the
    /// compiler can vectorize.
    fn extend_bilinear(&self, cols: &[f64], rows: &[f64], out: &mut Vec<f64>) {
        let n = cols.len().min(rows.len()).min(BULK_SAMPLES);
        let mut cells = [(0, 0.0, 0.0); BULK_SAMPLES];
        for ((cell, &col), &row) in cells[..n].iter_mut().zip(cols).zip(rows) {
            *cell = self.cell(col, row);
        }
        let mut corners = [[0.0; 4]; BULK_SAMPLES];
        for (corners, &(top, _, _)) in corners[..n].iter_mut().zip(&cells[..n]) {
            *corners = self.corners(top);
        }
        out.extend(
            corners[..n]
                .iter()
                .zip(&cells[..n])
                .map(|(&corners, &(_, fx, fy))| weigh(corners, fx, fy)),
        );
    }
}

/// The bilinear sum of a cell's `corners` ([`FiniteGrid::corners`]) at
/// offsets `fx`, `fy` within it.
#[inline]
fn weigh([upper_left, upper_right, lower_left, lower_right]: [f64; 4], fx: f64, fy: f64) -> f64 {
    let mut elevation_m = 0.0;
    elevation_m += (1.0 - fx) * (1.0 - fy) * upper_left;
    elevation_m += fx * (1.0 - fy) * upper_right;
    elevation_m += (1.0 - fx) * fy * lower_left;
    elevation_m += fx * fy * lower_right;
    elevation_m
}

/// Bilinear interpolation at fractional (`col`, `row`) inside a
/// `width`×`height` grid (clamped to it). Only corners with non-zero weight
/// are read, so an unfilled void beside an exact grid point does no harm.
fn bilinear(data: &WindowData, width: usize, height: usize, col: f64, row: f64) -> Option<Sample> {
    let col = col.clamp(0.0, (width - 1) as f64);
    let row = row.clamp(0.0, (height - 1) as f64);
    let c0 = (col as usize).min(width.saturating_sub(2));
    let r0 = (row as usize).min(height.saturating_sub(2));
    let (fx, fy) = (col - c0 as f64, row - r0 as f64);
    let c1 = (c0 + 1).min(width - 1);
    let r1 = (r0 + 1).min(height - 1);
    let corners = [
        (r0 * width + c0, (1.0 - fx) * (1.0 - fy)),
        (r0 * width + c1, fx * (1.0 - fy)),
        (r1 * width + c0, (1.0 - fx) * fy),
        (r1 * width + c1, fx * fy),
    ];
    let mut elevation_m = 0.0;
    let mut filled_void = false;
    for (i, weight) in corners {
        if weight > 0.0 {
            let value = data.values[i];
            if value.is_nan() {
                return None;
            }
            elevation_m += weight * f64::from(value);
            filled_void |= data.is_void(i);
        }
    }
    Some(Sample {
        elevation_m,
        filled_void,
    })
}

/// Positions along a path: great-circle knots at most
/// [`PROFILE_KNOT_SPACING_M`] apart (never more than there are steps), lat/lon
/// interpolated linearly between them.
struct Walk {
    knots: Vec<LatLon>,
    /// The number of knot intervals (≥ 1) as `f64`, and the last interval's
    /// index: taken once, as conversions between `usize` and `f64` cost
    /// several instructions each on x86-64.
    count: f64,
    last_k: i64,
}

impl Walk {
    fn new(from: LatLon, to: LatLon, length_m: f64, steps: usize) -> Self {
        let count = ((length_m / PROFILE_KNOT_SPACING_M).ceil() as usize).clamp(1, steps.max(1));
        Self {
            knots: (0..=count)
                .map(|k| from.interpolate(to, k as f64 / count as f64))
                .collect(),
            count: count as f64,
            last_k: i64::try_from(count - 1).unwrap_or(i64::MAX),
        }
    }

    /// The fractional (column, row) in `window` of samples `first`,
    /// `first + 1`, … of `steps` (as many as `cols` holds, at most
    /// [`BULK_SAMPLES`]): `at(i / steps)` then [`Dem::grid_position`], the
    /// same arithmetic, arranged so that the compiler can vectorize it (the
    /// fractions first, then run by run of samples between the same two
    /// knots, with no look-up per sample).
    fn grid_positions(
        &self,
        first: u32,
        steps: u32,
        window: &Window,
        cols: &mut [f64],
        rows: &mut [f64],
    ) {
        let n = cols.len().min(rows.len()).min(BULK_SAMPLES);
        let mut along = [0.0; BULK_SAMPLES];
        let mut knot = [0i64; BULK_SAMPLES];
        for ((along, knot), i) in along[..n].iter_mut().zip(&mut knot[..n]).zip(first..) {
            *along = f64::from(i) / f64::from(steps) * self.count;
            *knot = (*along as i64).min(self.last_k);
        }
        let mut start = 0;
        while start < n {
            let k = knot[start];
            let end = start
                + knot[start..n]
                    .iter()
                    .take_while(|&&other| other == k)
                    .count();
            let (a, b) = (
                self.knots[k.unsigned_abs() as usize],
                self.knots[k.unsigned_abs() as usize + 1],
            );
            let k = k as f64;
            let range = start..end;
            for ((col, row), &along) in cols[range.clone()]
                .iter_mut()
                .zip(&mut rows[range.clone()])
                .zip(&along[range])
            {
                let at = lerp(a, b, along - k);
                *col = (at.lon - window.lon0) * window.inv_dlon;
                *row = (at.lat - window.lat0) * window.inv_dlat;
            }
            start = end;
        }
    }

    /// The position a `fraction` (0..=1) of the way along.
    fn at(&self, fraction: f64) -> LatLon {
        let along = fraction * self.count;
        // `along` is within 0..=count, where `as i64` gives the integer
        // `as usize` would.
        let k = (along as i64).min(self.last_k);
        let t = along - k as f64;
        let k = k.unsigned_abs() as usize;
        lerp(self.knots[k], self.knots[k + 1], t)
    }
}

/// Linear interpolation in lat/lon, the short way round in longitude.
fn lerp(a: LatLon, b: LatLon, t: f64) -> LatLon {
    let mut dlon = b.lon - a.lon;
    if dlon > 180.0 {
        dlon -= 360.0;
    } else if dlon < -180.0 {
        dlon += 360.0;
    }
    let mut lon = a.lon + t * dlon;
    if lon > 180.0 {
        lon -= 360.0;
    } else if lon < -180.0 {
        lon += 360.0;
    }
    LatLon::new(a.lat + t * (b.lat - a.lat), lon)
}

/// Splits `n` samples into windows of at most `max + 1` samples that share
/// their edge sample: `(start, len)` pairs covering `0..n`.
fn split(n: usize, max: usize) -> Vec<(usize, usize)> {
    let intervals = n.saturating_sub(1);
    if intervals <= max {
        return vec![(0, n)];
    }
    let count = intervals.div_ceil(max);
    let step = intervals.div_ceil(count);
    (0..count)
        .map(|k| {
            let start = k * step;
            (start, (start + step).min(intervals) - start + 1)
        })
        .filter(|&(start, _)| start < intervals)
        .collect()
}

/// The raster files of a folder in name order, and all its file names (for
/// GDAL's sidecar lookups).
fn list_folder(dir: &Path) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let read_dir_error = |source| Error::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    let mut siblings = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
        let entry = entry.map_err(read_dir_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let lower = name.to_ascii_lowercase();
        let is_file =
            entry.file_type().map_err(read_dir_error)?.is_file() || entry.path().is_file();
        if is_file && RASTER_EXTENSIONS.iter().any(|ext| lower.ends_with(ext)) {
            files.push(entry.path());
        }
        siblings.push(name);
    }
    if files.is_empty() {
        return Err(Error::EmptyFolder {
            path: dir.to_path_buf(),
        });
    }
    files.sort();
    Ok((files, siblings))
}

impl Terrain for Dem {
    /// [`Dem::sample`]'s elevation; read errors (logged once) read as `None`.
    fn elevation_m(&self, at: LatLon) -> Option<f64> {
        self.try_elevation_m(at).ok().flatten()
    }

    /// [`Dem::try_profile`]; read errors (logged once) read as `None`.
    fn profile(&self, from: LatLon, to: LatLon, max_step_m: f64) -> Option<PathProfile> {
        self.try_profile(from, to, max_step_m).ok().flatten()
    }

    /// [`Dem::try_profile_elevations`]; read errors (logged once) read as `false`.
    fn profile_elevations(
        &self,
        from: LatLon,
        to: LatLon,
        max_step_m: f64,
        out: &mut Vec<f64>,
    ) -> bool {
        self.try_profile_elevations(from, to, max_step_m, out)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_shares_edges_and_covers_everything() {
        assert_eq!(split(1201, 2048), vec![(0, 1201)]);
        assert_eq!(split(1, 16), vec![(0, 1)]);
        assert_eq!(split(3601, 2048), vec![(0, 1801), (1800, 1801)]);
        for n in [2, 17, 100, 1201, 3601] {
            for max in [16, 100, 256] {
                let parts = split(n, max);
                assert_eq!(parts[0].0, 0);
                let (start, len) = parts[parts.len() - 1];
                assert_eq!(start + len, n, "{n} {max} {parts:?}");
                for pair in parts.windows(2) {
                    assert_eq!(pair[0].0 + pair[0].1 - 1, pair[1].0, "{parts:?}");
                }
                assert!(parts.iter().all(|&(_, len)| len <= max + 1 && len >= 2));
            }
        }
    }

    #[test]
    fn walk_stays_within_the_documented_error_of_the_great_circle() {
        // Measured worst case ≈ 0.57 m · tan(lat); checked for 20 and 100 km
        // paths in 24 directions at several latitudes.
        for lat in [0.0_f64, 30.0, 48.0, 60.0, 70.0, 80.0] {
            let bound_m = 0.6 * lat.to_radians().tan() + 0.01;
            for azimuth in (0..24).map(|k| f64::from(k * 15).to_radians()) {
                for length_deg in [0.18, 0.9] {
                    let from = LatLon::new(lat, 10.0);
                    let to = LatLon::new(
                        lat + length_deg * azimuth.cos(),
                        10.0 + length_deg * azimuth.sin() / lat.to_radians().cos(),
                    );
                    let length_m = from.distance_m(to);
                    let steps = (length_m / 90.0).ceil() as usize;
                    let walk = Walk::new(from, to, length_m, steps);
                    let worst = (0..=steps)
                        .map(|i| {
                            let f = i as f64 / steps as f64;
                            walk.at(f).distance_m(from.interpolate(to, f))
                        })
                        .fold(0.0, f64::max);
                    assert!(
                        worst < bound_m,
                        "{lat}° {azimuth} rad: {worst} m > {bound_m} m"
                    );
                    assert!(walk.at(1.0).distance_m(to) < 1e-6);
                }
            }
        }
    }

    #[test]
    fn lerp_takes_the_short_way_across_the_antimeridian() {
        let p = lerp(LatLon::new(0.0, 179.0), LatLon::new(2.0, -179.0), 0.75);
        assert!((p.lat - 1.5).abs() < 1e-12);
        assert!((p.lon - -179.5).abs() < 1e-12, "{p:?}");
    }

    #[test]
    fn bilinear_reads_only_weighted_corners() {
        let data = WindowData {
            values: vec![1.0, 2.0, f32::NAN, 4.0],
            void_bits: vec![0b0100],
            voids: 1,
            filled: 0,
            all_finite: false,
        };
        // On the top edge the NaN bottom-left corner has no weight.
        let s = bilinear(&data, 2, 2, 0.5, 0.0).unwrap();
        assert_eq!(s.elevation_m, 1.5);
        assert!(!s.filled_void);
        assert!(bilinear(&data, 2, 2, 0.5, 0.5).is_none());
        let s = bilinear(&data, 2, 2, 1.0, 1.0).unwrap();
        assert_eq!(s.elevation_m, 4.0);
    }
}
