use std::path::PathBuf;
use std::sync::Arc;

use gdal::errors::GdalError;

/// Errors of the terrain source. Every error about a file names it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`crate::Dem::open_with`] was given no paths.
    #[error("no DEM files given")]
    NoInput,

    /// A DEM folder could not be listed.
    #[error("cannot list DEM folder {}: {source}", path.display())]
    ReadDir {
        /// The folder.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },

    /// A DEM folder holds no file with a raster extension.
    #[error(
        "DEM folder {} holds no raster tiles (looked for .hgt, .hgt.zip, .tif, .tiff, .vrt)",
        path.display()
    )]
    EmptyFolder {
        /// The folder.
        path: PathBuf,
    },

    /// GDAL could not open a file as a raster (missing, unreadable, not a raster).
    #[error("cannot open DEM {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// GDAL's error.
        source: GdalError,
    },

    /// A raster has no band or no pixels.
    #[error("DEM {} has no raster band to read elevations from", path.display())]
    NoBand {
        /// The file.
        path: PathBuf,
    },

    /// A raster has no geotransform, so its pixels have no position.
    #[error("DEM {} has no geotransform (pixel positions unknown): {source}", path.display())]
    NoGeoTransform {
        /// The file.
        path: PathBuf,
        /// GDAL's error.
        source: GdalError,
    },

    /// A raster's geotransform is rotated, sheared or degenerate; only
    /// north-up (axis-aligned) grids are supported.
    #[error(
        "DEM {} has an unsupported geotransform {geo_transform:?}: only axis-aligned grids \
         with non-zero pixel sizes are supported (warp it with gdalwarp)",
        path.display()
    )]
    UnsupportedGeoTransform {
        /// The file.
        path: PathBuf,
        /// GDAL's six coefficients.
        geo_transform: [f64; 6],
    },

    /// A raster has no coordinate reference system and
    /// [`crate::DemParams::assume_wgs84_without_crs`] is off.
    #[error(
        "DEM {} has no coordinate reference system; hexcover needs WGS84 longitude/latitude \
         (EPSG:4326): assign it (gdal_edit.py -a_srs EPSG:4326) or allow it with \
         DemParams::assume_wgs84_without_crs",
        path.display()
    )]
    NoCrs {
        /// The file.
        path: PathBuf,
    },

    /// A raster is in a CRS other than WGS84 longitude/latitude: its pixel
    /// positions would be read as degrees and give silently wrong elevations.
    #[error(
        "DEM {} is in {crs}, not WGS84 longitude/latitude (EPSG:4326); reproject it, \
         e.g. gdalwarp -t_srs EPSG:4326",
        path.display()
    )]
    NotWgs84 {
        /// The file.
        path: PathBuf,
        /// The raster's CRS, as authority code and name where known.
        crs: String,
    },

    /// Elevations could not be read from a raster that opened fine. The error
    /// is kept (shared) so that later look-ups report it without rereading.
    #[error("cannot read elevations from DEM {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// GDAL's error.
        source: Arc<GdalError>,
    },

    /// A [`crate::DemParams`] value is out of range.
    #[error("invalid terrain parameter {name}: {reason}")]
    InvalidParams {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
