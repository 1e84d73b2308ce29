//! The DEM on the real SRTM3 tiles around Ulm (../shared/data/srtm3-ulm,
//! `HEXCOVER_SHARED` overrides the shared folder), checked against values read
//! straight from the `.hgt` bytes.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hexcover_core::{LatLon, PathProfile, Terrain};
use hexcover_terrain::{Dem, DemParams};

const SIZE: usize = 1201;
const VOID: i16 = -32768;

fn shared_dir() -> PathBuf {
    std::env::var_os("HEXCOVER_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

fn srtm_dir() -> PathBuf {
    shared_dir().join("data/srtm3-ulm")
}

fn tile_path(name: &str) -> PathBuf {
    srtm_dir().join(name)
}

/// A tile read independently of GDAL: 1201×1201 big-endian int16, row 0 at
/// the northern edge (lat + 1), column 0 at the western edge; samples sit on
/// multiples of 1/1200°.
struct RawTile {
    south: f64,
    west: f64,
    values: Vec<i16>,
}

impl RawTile {
    fn read(name: &str, south: f64, west: f64) -> Self {
        let bytes = std::fs::read(tile_path(name)).expect("read .hgt");
        assert_eq!(bytes.len(), SIZE * SIZE * 2, "{name}");
        let values = bytes
            .chunks_exact(2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .collect();
        Self {
            south,
            west,
            values,
        }
    }

    fn at(&self, row: usize, col: usize) -> i16 {
        self.values[row * SIZE + col]
    }

    fn position(&self, row: usize, col: usize) -> LatLon {
        LatLon::new(
            self.south + 1.0 - row as f64 / 1200.0,
            self.west + col as f64 / 1200.0,
        )
    }

    /// Bilinear from the raw samples, `None` when a corner is a void.
    fn bilinear(&self, at: LatLon) -> Option<f64> {
        let row = (self.south + 1.0 - at.lat) * 1200.0;
        let col = (at.lon - self.west) * 1200.0;
        let (r0, c0) = (
            (row.floor() as usize).min(SIZE - 2),
            (col.floor() as usize).min(SIZE - 2),
        );
        let (fy, fx) = (row - r0 as f64, col - c0 as f64);
        let mut z = 0.0;
        for (r, c, w) in [
            (r0, c0, (1.0 - fx) * (1.0 - fy)),
            (r0, c0 + 1, fx * (1.0 - fy)),
            (r0 + 1, c0, (1.0 - fx) * fy),
            (r0 + 1, c0 + 1, fx * fy),
        ] {
            let v = self.at(r, c);
            if v == VOID {
                return None;
            }
            z += w * f64::from(v);
        }
        Some(z)
    }

    fn voids(&self) -> Vec<(usize, usize)> {
        (0..SIZE * SIZE)
            .filter(|&i| self.values[i] == VOID)
            .map(|i| (i / SIZE, i % SIZE))
            .collect()
    }
}

fn dem() -> Dem {
    Dem::open(srtm_dir()).expect("open the Ulm tiles")
}

/// Deterministic pseudo-random points (xorshift) inside a box.
fn points(seed: u64, n: usize, lat: (f64, f64), lon: (f64, f64)) -> Vec<LatLon> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let a = lat.0 + (lat.1 - lat.0) * next();
            let b = lon.0 + (lon.1 - lon.0) * next();
            LatLon::new(a, b)
        })
        .collect()
}

#[test]
fn minster_square_reads_482_m() {
    let dem = dem();
    let sample = dem.sample(LatLon::new(48.3985, 9.9925)).unwrap().unwrap();
    assert!(
        (sample.elevation_m - 482.0).abs() <= 2.0,
        "{}",
        sample.elevation_m
    );
    assert!(!sample.filled_void);
    assert_eq!(
        dem.elevation_m(LatLon::new(48.3985, 9.9925)),
        Some(sample.elevation_m)
    );
}

#[test]
fn tiles_are_read_as_gdal_describes_them() {
    let dem = dem();
    let rasters = dem.rasters();
    assert_eq!(rasters.len(), 2);
    let west = &rasters[0];
    assert!(west.path.ends_with("N48E009.hgt"), "{:?}", west.path);
    assert_eq!(west.driver, "SRTMHGT");
    assert_eq!((west.width, west.height), (SIZE, SIZE));
    assert_eq!(west.nodata, Some(-32768.0));
    // Pixel edges half a sample outside the whole degrees, centres on them.
    let half = 0.5 / 1200.0;
    assert!(
        (west.extent.west - (9.0 - half)).abs() < 1e-9,
        "{:?}",
        west.extent
    );
    assert!((west.extent.north - (49.0 + half)).abs() < 1e-9);
    assert!((west.centres.west - 9.0).abs() < 1e-9, "{:?}", west.centres);
    assert!((west.centres.east - 10.0).abs() < 1e-9);
    assert!((west.centres.south - 48.0).abs() < 1e-9);
    assert!((west.centres.north - 49.0).abs() < 1e-9);
    let extent = dem.extent();
    assert!((extent.east - (11.0 + half)).abs() < 1e-9, "{extent:?}");
    assert_eq!(dem.window_count(), 2);
}

#[test]
fn grid_points_are_the_raw_samples() {
    let dem = dem();
    for (name, west) in [("N48E009.hgt", 9.0), ("N48E010.hgt", 10.0)] {
        let raw = RawTile::read(name, 48.0, west);
        for (row, col) in [
            (0, 0),
            (0, 1200),
            (1200, 0),
            (1200, 1200),
            (600, 600),
            (721, 1191),
            (17, 1003),
        ] {
            let expected = raw.at(row, col);
            assert_ne!(expected, VOID);
            let got = dem.elevation_m(raw.position(row, col)).unwrap();
            assert!(
                (got - f64::from(expected)).abs() < 1e-6,
                "{name} row {row} col {col}: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn bilinear_matches_an_independent_computation() {
    let dem = dem();
    let mut compared = 0;
    for (name, west, seed) in [("N48E009.hgt", 9.0, 7), ("N48E010.hgt", 10.0, 11)] {
        let raw = RawTile::read(name, 48.0, west);
        for at in points(seed, 2_000, (48.0, 49.0), (west, west + 1.0)) {
            let Some(expected) = raw.bilinear(at) else {
                continue; // a void corner: filled values differ from raw by design
            };
            let got = dem.sample(at).unwrap().unwrap();
            assert!(
                (got.elevation_m - expected).abs() < 1e-4,
                "{at:?}: {} vs {expected}",
                got.elevation_m
            );
            compared += 1;
        }
    }
    assert!(compared > 3_900, "{compared}");
}

#[test]
fn elevation_is_continuous_across_the_10_degree_seam() {
    let dem = dem();
    let west = RawTile::read("N48E009.hgt", 48.0, 9.0);
    let east = RawTile::read("N48E010.hgt", 48.0, 10.0);
    // The tiles share the 10° E column sample for sample.
    for row in 0..SIZE {
        assert_eq!(west.at(row, 1200), east.at(row, 0), "row {row}");
    }
    for lat in [48.0005, 48.1234, 48.3985, 48.5, 48.7777, 48.9999] {
        let mut previous: Option<f64> = None;
        for i in 0..=200 {
            let lon = 9.9999 + f64::from(i) * 1e-6;
            let z = dem.elevation_m(LatLon::new(lat, lon)).unwrap();
            if let Some(p) = previous {
                // 1e-6° is 1/833 of a sample: any real slope moves < 0.5 m.
                assert!((z - p).abs() < 0.5, "lat {lat} lon {lon}: {p} → {z}");
            }
            previous = Some(z);
        }
        let just_west = dem.elevation_m(LatLon::new(lat, 10.0 - 1e-10)).unwrap();
        let just_east = dem.elevation_m(LatLon::new(lat, 10.0 + 1e-10)).unwrap();
        assert!(
            (just_west - just_east).abs() < 1e-3,
            "lat {lat}: {just_west} vs {just_east}"
        );
        let seam = dem.elevation_m(LatLon::new(lat, 10.0)).unwrap();
        assert!((seam - west.bilinear(LatLon::new(lat, 10.0)).unwrap()).abs() < 1e-4);
        assert!((seam - east.bilinear(LatLon::new(lat, 10.0)).unwrap()).abs() < 1e-4);
    }
}

#[test]
fn voids_are_filled_flagged_and_counted() {
    let dem = dem();
    let west = RawTile::read("N48E009.hgt", 48.0, 9.0);
    let east = RawTile::read("N48E010.hgt", 48.0, 10.0);
    let (west_voids, east_voids) = (west.voids(), east.voids());
    // As SOURCE.md documents.
    assert_eq!((west_voids.len(), east_voids.len()), (21, 32));

    for (raw, voids) in [(&west, &west_voids), (&east, &east_voids)] {
        for &(row, col) in voids {
            let at = raw.position(row, col);
            let sample = dem
                .sample(at)
                .unwrap()
                .expect("a filled void has an elevation");
            assert!(sample.filled_void, "{at:?}");
            assert!(dem.is_filled_void(at));
            // Within the range of the valid samples around it.
            let near: Vec<i16> = (row.saturating_sub(4)..=(row + 4).min(SIZE - 1))
                .flat_map(|r| {
                    (col.saturating_sub(4)..=(col + 4).min(SIZE - 1)).map(move |c| (r, c))
                })
                .map(|(r, c)| raw.at(r, c))
                .filter(|&v| v != VOID)
                .collect();
            let lo = f64::from(*near.iter().min().unwrap());
            let hi = f64::from(*near.iter().max().unwrap());
            assert!(
                (lo..=hi).contains(&sample.elevation_m),
                "{at:?}: {} outside {lo}..={hi}",
                sample.elevation_m
            );
        }
    }
    dem.load_all().unwrap();
    let stats = dem.void_stats();
    assert_eq!((stats.voids, stats.filled), (53, 53));

    // Far from voids nothing is flagged.
    assert!(!dem.is_filled_void(LatLon::new(48.3985, 9.9925)));

    // A profile through the first void of N48E010 counts the samples that
    // rest on it; one beside it counts none.
    let (row, col) = east_voids[0];
    let at = east.position(row, col);
    let through = dem
        .profile(
            LatLon::new(at.lat, at.lon - 0.01),
            LatLon::new(at.lat, at.lon + 0.01),
            10.0,
        )
        .unwrap();
    assert!(through.filled_voids > 0, "{}", through.filled_voids);
    let clean = dem
        .profile(LatLon::new(48.3985, 9.90), LatLon::new(48.3985, 9.95), 10.0)
        .unwrap();
    assert_eq!(clean.filled_voids, 0);
}

#[test]
fn outside_coverage_is_none() {
    let dem = dem();
    for at in [
        LatLon::new(47.9, 9.5),
        LatLon::new(49.1, 10.5),
        LatLon::new(48.5, 8.9),
        LatLon::new(48.5, 11.1),
        LatLon::new(52.52, 13.40),
        LatLon::new(f64::NAN, 10.0),
        LatLon::new(48.5, f64::INFINITY),
        // Just beyond the outer half-pixel rim (8.999583…).
        LatLon::new(48.5, 8.9995),
    ] {
        assert_eq!(dem.elevation_m(at), None, "{at:?}");
        assert_eq!(dem.sample(at).unwrap(), None, "{at:?}");
    }
    // Inside the rim the edge sample is repeated.
    let edge = dem.elevation_m(LatLon::new(48.5, 9.0)).unwrap();
    let rim = dem.elevation_m(LatLon::new(48.5, 8.9998)).unwrap();
    assert_eq!(edge, rim);
    // A profile leaving the tiles has no elevation.
    assert!(
        dem.profile(LatLon::new(48.5, 10.9), LatLon::new(48.5, 11.2), 90.0)
            .is_none()
    );
}

fn grid_of_points() -> Vec<LatLon> {
    let mut pts = points(42, 3_000, (48.0, 49.0), (9.0, 11.0));
    for lat in [48.0, 48.25, 48.3985, 48.999] {
        for lon in [9.0, 9.99999, 10.0, 10.00001, 10.5, 11.0] {
            pts.push(LatLon::new(lat, lon));
        }
    }
    pts
}

fn assert_same_values(a: &Dem, b: &Dem, pts: &[LatLon], tolerance_m: f64, what: &str) {
    for &at in pts {
        let (x, y) = (a.sample(at).unwrap(), b.sample(at).unwrap());
        match (x, y) {
            (Some(x), Some(y)) => {
                assert!(
                    (x.elevation_m - y.elevation_m).abs() <= tolerance_m,
                    "{what} at {at:?}: {} vs {}",
                    x.elevation_m,
                    y.elevation_m
                );
                assert_eq!(x.filled_void, y.filled_void, "{what} at {at:?}");
            }
            (x, y) => assert_eq!(x.is_some(), y.is_some(), "{what} at {at:?}"),
        }
    }
}

fn write_vrt(dir: &Path) -> PathBuf {
    let source = |file: &str, x_off: usize| {
        format!(
            r#"    <SimpleSource>
      <SourceFilename relativeToVRT="0">{}</SourceFilename>
      <SourceBand>1</SourceBand>
      <SrcRect xOff="0" yOff="0" xSize="1201" ySize="1201"/>
      <DstRect xOff="{x_off}" yOff="0" xSize="1201" ySize="1201"/>
    </SimpleSource>
"#,
            tile_path(file).display()
        )
    };
    let half = 0.5 / 1200.0;
    let vrt = format!(
        r#"<VRTDataset rasterXSize="2401" rasterYSize="1201">
  <SRS>EPSG:4326</SRS>
  <GeoTransform>{}, {}, 0, {}, 0, {}</GeoTransform>
  <VRTRasterBand dataType="Int16" band="1">
    <NoDataValue>-32768</NoDataValue>
{}{}  </VRTRasterBand>
</VRTDataset>
"#,
        9.0 - half,
        1.0 / 1200.0,
        49.0 + half,
        -1.0 / 1200.0,
        source("N48E009.hgt", 0),
        source("N48E010.hgt", 1200),
    );
    let path = dir.join("ulm.vrt");
    std::fs::write(&path, vrt).unwrap();
    path
}

#[test]
fn folder_files_vrt_and_geotiff_give_the_same_values() {
    let folder = dem();
    let pts = grid_of_points();

    let files = Dem::open_with(
        &[tile_path("N48E009.hgt"), tile_path("N48E010.hgt")],
        DemParams::default(),
    )
    .unwrap();
    assert_same_values(&folder, &files, &pts, 0.0, "two .hgt files");

    let tmp = tempfile::tempdir().unwrap();
    let vrt = Dem::open(write_vrt(tmp.path())).unwrap();
    assert_eq!(vrt.rasters()[0].driver, "VRT");
    // 2401 columns: two windows, split at the seam like the tiles.
    assert_eq!(vrt.window_count(), 2);
    assert_same_values(&folder, &vrt, &pts, 1e-6, "VRT");

    // Each tile alone, and as a GeoTIFF copy.
    let gtiff = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    for (name, west) in [("N48E009.hgt", 9.0), ("N48E010.hgt", 10.0)] {
        let single = Dem::open(tile_path(name)).unwrap();
        let inside: Vec<LatLon> = pts
            .iter()
            .copied()
            .filter(|p| p.lon >= west && p.lon <= west + 1.0)
            .collect();
        assert_same_values(&folder, &single, &inside, 0.0, name);

        let source = gdal::Dataset::open(tile_path(name)).unwrap();
        let tif = tmp.path().join(name.replace(".hgt", ".tif"));
        source
            .create_copy(&gtiff, &tif, &Default::default())
            .unwrap();
        let geotiff = Dem::open(&tif).unwrap();
        assert_eq!(geotiff.rasters()[0].driver, "GTiff");
        assert_eq!(geotiff.rasters()[0].nodata, Some(-32768.0));
        assert_same_values(&single, &geotiff, &inside, 1e-9, "GeoTIFF copy");
    }
}

#[test]
fn small_windows_give_the_same_values() {
    let whole = dem();
    let windowed = Dem::open_with(&[srtm_dir()], DemParams::default().window_px(256)).unwrap();
    assert_eq!(windowed.window_count(), 2 * 5 * 5);
    let mut pts = grid_of_points();
    // Every void, where the halo matters.
    for (name, west) in [("N48E009.hgt", 9.0), ("N48E010.hgt", 10.0)] {
        let raw = RawTile::read(name, 48.0, west);
        pts.extend(raw.voids().into_iter().map(|(r, c)| raw.position(r, c)));
    }
    assert_same_values(&whole, &windowed, &pts, 1e-9, "256-px windows");
}

#[test]
fn windows_are_loaded_once_on_first_touch() {
    let dem = dem();
    assert_eq!(dem.loaded_windows(), 0);
    for at in points(3, 100_000, (48.0, 49.0), (9.0, 9.9)) {
        dem.elevation_m(at).unwrap();
    }
    assert_eq!(dem.loaded_windows(), 1);
    dem.elevation_m(LatLon::new(48.5, 10.5)).unwrap();
    assert_eq!(dem.loaded_windows(), 2);
}

/// The DEM seen only through `elevation_m`, so `profile` is core's
/// great-circle default.
struct GreatCircle<'a>(&'a Dem);

impl Terrain for GreatCircle<'_> {
    fn elevation_m(&self, at: LatLon) -> Option<f64> {
        self.0.elevation_m(at)
    }
}

#[test]
fn fast_profile_matches_the_great_circle_default() {
    let dem = dem();
    let reference = GreatCircle(&dem);
    let ulm = LatLon::new(48.3985, 9.9925);
    for to in [
        LatLon::new(48.3985, 10.2636), // 20 km east
        LatLon::new(48.5780, 9.9925),  // 20 km north
        LatLon::new(48.2700, 10.1850), // south-east, across nothing special
        LatLon::new(48.9000, 9.1000),  // 85 km north-west
        LatLon::new(48.0500, 10.9500), // 80 km east-south-east, across the seam
    ] {
        let fast: PathProfile = dem.profile(ulm, to, 90.0).unwrap();
        let slow = reference.profile(ulm, to, 90.0).unwrap();
        assert_eq!(fast.distance_m, slow.distance_m, "to {to:?}");
        assert!(
            fast.distance_m
                .windows(2)
                .all(|w| w[1] - w[0] <= 90.0 + 1e-9)
        );
        let worst = fast
            .elevation_m
            .iter()
            .zip(&slow.elevation_m)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // Positions agree within a metre; SRTM slopes here are well below 1
        // (measured: at most 0.23 m).
        assert!(worst < 0.5, "to {to:?}: worst difference {worst} m");
    }
    // Degenerate profiles: a point, and a zero step.
    let point = dem.profile(ulm, ulm, 90.0).unwrap();
    assert_eq!(point.distance_m, vec![0.0, 0.0]);
    let ends = dem
        .profile(ulm, LatLon::new(48.3985, 10.2636), 0.0)
        .unwrap();
    assert_eq!(ends.elevation_m.len(), 2);
}

#[test]
fn concurrent_first_touches_agree() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Dem>();
    let dem = dem();
    let pts = points(5, 20_000, (48.0, 49.0), (9.0, 11.0));
    let results: Vec<Vec<Option<f64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| pts.iter().map(|&p| dem.elevation_m(p)).collect()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(dem.loaded_windows(), 2);
}

/// `profile_elevations` (the coverage sweep's read) against `profile`, bit
/// for bit: many radials across the 10° E tile seam, across the seams of
/// 256-px windows, through voids (filled, and left unfilled so that windows
/// hold NaN), and radials that leave the tiles.
#[test]
fn profile_elevations_are_the_profile_bit_for_bit() {
    let east = RawTile::read("N48E010.hgt", 48.0, 10.0);
    let (row, col) = east.voids()[0];
    let centres = [
        LatLon::new(48.3985, 9.9918),  // Ulm, 600 m west of the seam
        LatLon::new(48.4230, 10.0002), // on the seam
        east.position(row, col),       // a void
        LatLon::new(48.0800, 9.0600),  // near the south-west corner
    ];
    let dems = [
        ("one window per tile", dem()),
        (
            "256-px windows",
            Dem::open_with(&[srtm_dir()], DemParams::default().window_px(256)).unwrap(),
        ),
        (
            "unfilled voids",
            Dem::open_with(&[srtm_dir()], DemParams::default().void_fill_radius_px(0)).unwrap(),
        ),
    ];
    let mut out = Vec::new();
    for (what, dem) in &dems {
        let (mut read, mut none, mut across_seam) = (0, 0, 0);
        for centre in centres {
            for k in 0..48 {
                let bearing = f64::from(k) * 7.5 + 0.3;
                for (length_deg, step_m) in [(0.02, 10.0), (0.2, 92.7), (0.6, 30.0)] {
                    let to = LatLon::new(
                        centre.lat + length_deg * bearing.to_radians().cos(),
                        centre.lon
                            + length_deg * bearing.to_radians().sin()
                                / centre.lat.to_radians().cos(),
                    );
                    let profile = dem.profile(centre, to, step_m);
                    let fast = dem.profile_elevations(centre, to, step_m, &mut out);
                    match profile {
                        Some(p) => {
                            assert!(fast, "{what}: {centre:?} → {to:?}");
                            let bits =
                                |v: &[f64]| v.iter().map(|e| e.to_bits()).collect::<Vec<_>>();
                            assert_eq!(
                                bits(&out),
                                bits(&p.elevation_m),
                                "{what}: {centre:?} → {to:?}"
                            );
                            read += 1;
                            if (centre.lon - 10.0).signum() != (to.lon - 10.0).signum() {
                                across_seam += 1;
                            }
                        }
                        None => {
                            assert!(!fast, "{what}: {centre:?} → {to:?}");
                            none += 1;
                        }
                    }
                }
            }
        }
        assert!(
            read > 300 && none > 20 && across_seam > 50,
            "{what}: {read} {none} {across_seam}"
        );
    }
}
