//! Inputs the DEM must refuse, each with an error that names the file.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use gdal::DriverManager;
use gdal::spatial_ref::SpatialRef;
use hexcover_core::{LatLon, Terrain};
use hexcover_terrain::{Dem, DemParams, Error};

/// A 10×10 Int16 GeoTIFF with the given geotransform and EPSG code (none: no CRS).
fn write_geotiff(path: &Path, geo_transform: [f64; 6], epsg: Option<u32>) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<i16, _>(path, 10, 10, 1)
        .unwrap();
    dataset.set_geo_transform(&geo_transform).unwrap();
    if let Some(code) = epsg {
        dataset
            .set_spatial_ref(&SpatialRef::from_epsg(code).unwrap())
            .unwrap();
    }
    let mut band = dataset.rasterband(1).unwrap();
    let mut buffer = gdal::raster::Buffer::new((10, 10), (0..100).map(|v| v as i16).collect());
    band.write((0, 0), (10, 10), &mut buffer).unwrap();
}

fn message_names(error: &Error, path: &Path) -> String {
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "error does not name {}: {message}",
        path.display()
    );
    message
}

#[test]
fn a_corrupt_hgt_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("N48E011.hgt");
    std::fs::write(&path, b"not an SRTM tile").unwrap();
    let error = Dem::open(&path).unwrap_err();
    assert!(matches!(error, Error::Open { .. }), "{error:?}");
    message_names(&error, &path);

    // In a folder, too, the broken tile is named.
    let error = Dem::open(tmp.path()).unwrap_err();
    message_names(&error, &path);
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let path = PathBuf::from("/nonexistent/N48E009.hgt");
    let error = Dem::open(&path).unwrap_err();
    message_names(&error, &path);
}

#[test]
fn a_projected_raster_is_refused_not_misread() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("utm.tif");
    write_geotiff(
        &path,
        [570_000.0, 90.0, 0.0, 5_360_000.0, 0.0, -90.0],
        Some(32632),
    );
    let error = Dem::open(&path).unwrap_err();
    assert!(matches!(error, Error::NotWgs84 { .. }), "{error:?}");
    let message = message_names(&error, &path);
    assert!(message.contains("32632"), "{message}");
}

#[test]
fn a_raster_without_crs_is_refused_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("nocrs.tif");
    let step = 0.01;
    write_geotiff(&path, [10.0, step, 0.0, 48.1, 0.0, -step], None);
    let error = Dem::open(&path).unwrap_err();
    assert!(matches!(error, Error::NoCrs { .. }), "{error:?}");
    message_names(&error, &path);

    let dem = Dem::open_with(
        &[&path],
        DemParams::default().assume_wgs84_without_crs(true),
    )
    .unwrap();
    // Sample (row 2, col 3) has value 23 and sits at the centre of its pixel.
    let at = LatLon::new(48.1 - 2.5 * step, 10.0 + 3.5 * step);
    assert!((dem.elevation_m(at).unwrap() - 23.0).abs() < 1e-9);
    // Halfway to the next column: bilinear.
    let at = LatLon::new(48.1 - 2.5 * step, 10.0 + 4.0 * step);
    assert!((dem.elevation_m(at).unwrap() - 23.5).abs() < 1e-9);
}

#[test]
fn a_wgs84_geotiff_reads_with_pixel_centres() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("wgs84.tif");
    let step = 0.01;
    write_geotiff(&path, [10.0, step, 0.0, 48.1, 0.0, -step], Some(4326));
    let dem = Dem::open(&path).unwrap();
    let at = LatLon::new(48.1 - 0.5 * step, 10.0 + 0.5 * step);
    assert_eq!(dem.elevation_m(at), Some(0.0));
    // Half a pixel further is still in the rim: the edge sample repeats.
    let at = LatLon::new(48.1 - 0.5 * step, 10.0 + 0.1 * step);
    assert_eq!(dem.elevation_m(at), Some(0.0));
}

#[test]
fn a_rotated_raster_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rotated.tif");
    write_geotiff(&path, [10.0, 0.01, 0.001, 48.1, 0.001, -0.01], Some(4326));
    let error = Dem::open(&path).unwrap_err();
    assert!(
        matches!(error, Error::UnsupportedGeoTransform { .. }),
        "{error:?}"
    );
    message_names(&error, &path);
}

#[test]
fn empty_inputs_and_bad_params_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("README.txt"), "no tiles here").unwrap();
    let error = Dem::open(tmp.path()).unwrap_err();
    assert!(matches!(error, Error::EmptyFolder { .. }), "{error:?}");
    message_names(&error, tmp.path());

    let none: [&Path; 0] = [];
    assert!(matches!(
        Dem::open_with(&none, DemParams::default()).unwrap_err(),
        Error::NoInput
    ));
    // Parameters are checked before any file is touched.
    let error = Dem::open_with(
        &["/nonexistent"],
        DemParams::default().void_fill_radius_px(5_000),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidParams {
                name: "void_fill_radius_px",
                ..
            }
        ),
        "{error:?}"
    );
}
