use crate::{Error, Result};

/// How [`crate::Dem`] reads and repairs rasters.
///
/// Setters consume and return the value; [`DemParams::check`] validates them,
/// and [`crate::Dem::open_with`] calls it before opening any file.
///
/// ```
/// use hexcover_terrain::DemParams;
///
/// let params = DemParams::default().void_fill_radius_px(8).window_px(1024);
/// assert!(params.check().is_ok());
/// assert!(DemParams::default().window_px(3).check().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemParams {
    pub(crate) void_fill_radius_px: usize,
    pub(crate) window_px: usize,
    pub(crate) assume_wgs84_without_crs: bool,
}

/// Largest accepted [`DemParams::void_fill_radius_px`].
pub const MAX_VOID_FILL_RADIUS_PX: usize = 1024;

/// Accepted range of [`DemParams::window_px`].
pub const WINDOW_PX_RANGE: std::ops::RangeInclusive<usize> = 16..=65_536;

impl Default for DemParams {
    fn default() -> Self {
        Self {
            void_fill_radius_px: 32,
            window_px: 2048,
            assume_wgs84_without_crs: false,
        }
    }
}

impl DemParams {
    /// How far (in pixels, Chebyshev distance) a void may lie from valid data
    /// and still be filled; default 32 (about 3 km on SRTM3). Voids further
    /// inside a hole stay unfilled and read as `None`; 0 fills nothing.
    ///
    /// Filling costs about `(2d+1)²` pixel reads for a void at distance `d`,
    /// so a large radius on rasters with nodata seas is slow to load.
    #[must_use]
    pub const fn void_fill_radius_px(mut self, radius_px: usize) -> Self {
        self.void_fill_radius_px = radius_px;
        self
    }

    /// Rasters wider or taller than this many sample intervals are split into
    /// windows of at most `window_px + 1` samples a side (neighbouring windows
    /// share one row/column), each loaded on first touch; default 2048
    /// (16 MiB of `f32` per window). An SRTM tile (1201²) is one window.
    #[must_use]
    pub const fn window_px(mut self, window_px: usize) -> Self {
        self.window_px = window_px;
        self
    }

    /// Read a raster without a coordinate reference system as WGS84
    /// longitude/latitude instead of refusing it; default off.
    #[must_use]
    pub const fn assume_wgs84_without_crs(mut self, assume: bool) -> Self {
        self.assume_wgs84_without_crs = assume;
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] naming the first parameter out of range.
    pub fn check(&self) -> Result<()> {
        if self.void_fill_radius_px > MAX_VOID_FILL_RADIUS_PX {
            return Err(Error::InvalidParams {
                name: "void_fill_radius_px",
                reason: format!(
                    "{} is above the maximum {MAX_VOID_FILL_RADIUS_PX}",
                    self.void_fill_radius_px
                ),
            });
        }
        if !WINDOW_PX_RANGE.contains(&self.window_px) {
            return Err(Error::InvalidParams {
                name: "window_px",
                reason: format!(
                    "{} is outside {}..={}",
                    self.window_px,
                    WINDOW_PX_RANGE.start(),
                    WINDOW_PX_RANGE.end()
                ),
            });
        }
        Ok(())
    }
}
