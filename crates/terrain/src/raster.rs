//! One raster file: what is known after opening it, and reading windows of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gdal::errors::GdalError;
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use crate::fill::fill_voids;
use crate::{Bounds, DemParams, Error, Result};

/// A raster file as the DEM sees it after opening: size, grid, nodata.
#[derive(Debug, Clone, PartialEq)]
pub struct RasterInfo {
    /// The file.
    pub path: PathBuf,
    /// GDAL's driver short name, e.g. `SRTMHGT`, `GTiff`, `VRT`.
    pub driver: String,
    /// Width in samples (columns).
    pub width: usize,
    /// Height in samples (rows).
    pub height: usize,
    /// GDAL's geotransform: the outer edges of the pixels (pixel-is-area).
    pub geo_transform: [f64; 6],
    /// The band's nodata value, if any: samples equal to it are voids.
    pub nodata: Option<f64>,
    /// The area covered by the pixels (GDAL's extent), degrees.
    pub extent: Bounds,
    /// The hull of the sample centres, degrees: where bilinear interpolation
    /// needs no neighbouring raster. Half a pixel inside [`RasterInfo::extent`].
    pub centres: Bounds,
}

impl RasterInfo {
    /// Longitude of the centre of column `col` (may be fractional).
    pub(crate) fn lon_of_col(&self, col: f64) -> f64 {
        self.geo_transform[0] + (col + 0.5) * self.geo_transform[1]
    }

    /// Latitude of the centre of row `row` (may be fractional).
    pub(crate) fn lat_of_row(&self, row: f64) -> f64 {
        self.geo_transform[3] + (row + 0.5) * self.geo_transform[5]
    }
}

/// Opens `path` with GDAL as a raster. `siblings` (the other files of its
/// folder, when known) spares GDAL a directory listing per file.
fn open_dataset(path: &Path, siblings: Option<&[&str]>) -> gdal::errors::Result<Dataset> {
    Dataset::open_ex(
        path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_RASTER
                | GdalOpenFlags::GDAL_OF_READONLY
                | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
            sibling_files: siblings,
            ..DatasetOptions::default()
        },
    )
}

/// Opens a raster and checks everything that can be checked without reading
/// pixels: one band at least, an axis-aligned geotransform, WGS84 lon/lat.
pub(crate) fn inspect(
    path: &Path,
    siblings: Option<&[&str]>,
    params: &DemParams,
) -> Result<RasterInfo> {
    let dataset = open_dataset(path, siblings).map_err(|source| Error::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let (width, height) = dataset.raster_size();
    if dataset.raster_count() == 0 || width == 0 || height == 0 {
        return Err(Error::NoBand {
            path: path.to_path_buf(),
        });
    }
    let geo_transform = dataset
        .geo_transform()
        .map_err(|source| Error::NoGeoTransform {
            path: path.to_path_buf(),
            source,
        })?;
    let gt = geo_transform;
    let usable = gt.iter().all(|v| v.is_finite())
        && gt[2] == 0.0
        && gt[4] == 0.0
        && gt[1] != 0.0
        && gt[5] != 0.0;
    if !usable {
        return Err(Error::UnsupportedGeoTransform {
            path: path.to_path_buf(),
            geo_transform,
        });
    }
    check_crs(&dataset, path, params)?;
    let nodata = dataset
        .rasterband(1)
        .map_err(|source| Error::Open {
            path: path.to_path_buf(),
            source,
        })?
        .no_data_value();

    let x_edges = (gt[0], gt[0] + width as f64 * gt[1]);
    let y_edges = (gt[3], gt[3] + height as f64 * gt[5]);
    let x_centres = (gt[0] + 0.5 * gt[1], gt[0] + (width as f64 - 0.5) * gt[1]);
    let y_centres = (gt[3] + 0.5 * gt[5], gt[3] + (height as f64 - 0.5) * gt[5]);
    Ok(RasterInfo {
        path: path.to_path_buf(),
        driver: dataset.driver().short_name(),
        width,
        height,
        geo_transform,
        nodata,
        extent: Bounds::from_corners(y_edges, x_edges),
        centres: Bounds::from_corners(y_centres, x_centres),
    })
}

/// Accepts geographic CRSs on the WGS84 datum in degrees (EPSG:4326, its 3D
/// form EPSG:4979, OGC:CRS84, compound CRSs with such a horizontal part).
fn check_crs(dataset: &Dataset, path: &Path, params: &DemParams) -> Result<()> {
    let Ok(srs) = dataset.spatial_ref() else {
        return if params.assume_wgs84_without_crs {
            Ok(())
        } else {
            Err(Error::NoCrs {
                path: path.to_path_buf(),
            })
        };
    };
    if is_wgs84_lon_lat(&srs) {
        return Ok(());
    }
    Err(Error::NotWgs84 {
        path: path.to_path_buf(),
        crs: describe_crs(&srs),
    })
}

fn is_wgs84_lon_lat(srs: &SpatialRef) -> bool {
    if !srs.is_geographic() {
        return false;
    }
    if SpatialRef::from_epsg(4326).is_ok_and(|wgs84| wgs84 == *srs) {
        return true;
    }
    let degrees = (srs.angular_units() - 1.0_f64.to_radians()).abs() < 1e-12;
    let datum = srs
        .get_attr_value("DATUM", 0)
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_ascii_uppercase()
        .replace([' ', '-'], "_");
    degrees && (datum == "WGS_1984" || datum.starts_with("WORLD_GEODETIC_SYSTEM_1984"))
}

fn describe_crs(srs: &SpatialRef) -> String {
    let code = match (srs.auth_name(), srs.auth_code()) {
        (Some(name), Ok(code)) => Some(format!("{name}:{code}")),
        _ => None,
    };
    match (code, srs.name()) {
        (Some(code), Some(name)) => format!("{code} ({name})"),
        (Some(code), None) => code,
        (None, Some(name)) => format!("\"{name}\""),
        (None, None) => "an unnamed CRS".to_owned(),
    }
}

/// A rectangle of a raster's samples: columns `col0..col0 + width`, rows
/// `row0..row0 + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub col0: usize,
    pub row0: usize,
    pub width: usize,
    pub height: usize,
}

/// The samples of one window, voids filled where possible.
#[derive(Debug)]
pub(crate) struct WindowData {
    /// Row-major elevations in metres; NaN where a void could not be filled.
    pub values: Vec<f32>,
    /// One bit per sample, set where the raster had a void (filled or not);
    /// empty when the window has none.
    pub void_bits: Vec<u64>,
    /// How many voids the window had, and how many of them were filled.
    pub voids: usize,
    pub filled: usize,
    /// Whether every value is finite (no unfilled void, no infinity): then
    /// bilinear interpolation may add all four corners, zero weights too,
    /// and get the same bits as adding only the weighted ones.
    pub all_finite: bool,
}

impl WindowData {
    pub(crate) fn is_void(&self, index: usize) -> bool {
        self.void_bits
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }
}

/// Reads `window` of `info`'s first band as `f32` metres (band scale and
/// offset applied), marks voids (the nodata value, NaN) and fills them from a
/// halo of `void_fill_radius_px` around the window, so that windows of one
/// raster fill their shared edges alike.
pub(crate) fn read_window(
    info: &RasterInfo,
    window: Rect,
    params: &DemParams,
) -> std::result::Result<WindowData, Arc<GdalError>> {
    let read = || -> gdal::errors::Result<WindowData> {
        let halo = params.void_fill_radius_px;
        let col0 = window.col0.saturating_sub(halo);
        let row0 = window.row0.saturating_sub(halo);
        let col1 = (window.col0 + window.width + halo).min(info.width);
        let row1 = (window.row0 + window.height + halo).min(info.height);
        let (width, height) = (col1 - col0, row1 - row0);

        // The file is open only for this read.
        let (scale, offset, mut values) = {
            let dataset = open_dataset(&info.path, None)?;
            let band = dataset.rasterband(1)?;
            let to_isize = |v: usize| isize::try_from(v).unwrap_or(isize::MAX);
            let (_, values) = band
                .read_as::<f32>(
                    (to_isize(col0), to_isize(row0)),
                    (width, height),
                    (width, height),
                    None,
                )?
                .into_shape_and_vec();
            (
                band.scale().unwrap_or(1.0),
                band.offset().unwrap_or(0.0),
                values,
            )
        };

        let nodata = info.nodata.map(|v| v as f32);
        let rescale = scale != 1.0 || offset != 0.0;
        for v in &mut values {
            if v.is_nan() || Some(*v) == nodata {
                *v = f32::NAN;
            } else if rescale {
                *v = (f64::from(*v) * scale + offset) as f32;
            }
        }

        // Voids of the window proper, before filling.
        let (dx, dy) = (window.col0 - col0, window.row0 - row0);
        let mut void_bits = Vec::new();
        let mut voids = 0;
        for y in 0..window.height {
            for x in 0..window.width {
                if values[(y + dy) * width + x + dx].is_nan() {
                    if void_bits.is_empty() {
                        void_bits = vec![0_u64; (window.width * window.height).div_ceil(64)];
                    }
                    let i = y * window.width + x;
                    void_bits[i / 64] |= 1 << (i % 64);
                    voids += 1;
                }
            }
        }
        if voids > 0 {
            fill_voids(&mut values, width, height, params.void_fill_radius_px);
        }
        let mut cropped = Vec::with_capacity(window.width * window.height);
        for y in 0..window.height {
            let start = (y + dy) * width + dx;
            cropped.extend_from_slice(&values[start..start + window.width]);
        }
        let filled = if voids > 0 {
            voids - cropped.iter().filter(|v| v.is_nan()).count()
        } else {
            0
        };
        // Branch-free within a chunk, so that it vectorises (an early exit
        // per value does not, and costs ~7 instructions a value).
        let all_finite = cropped
            .chunks(4096)
            .all(|chunk| chunk.iter().fold(true, |ok, v| ok & v.is_finite()));
        Ok(WindowData {
            values: cropped,
            void_bits,
            voids,
            filled,
            all_finite,
        })
    };
    read().map_err(Arc::new)
}
