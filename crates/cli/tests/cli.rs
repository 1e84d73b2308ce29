//! The `hexcover` binary end to end on the real Ulm data.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{hexcover, root};

fn ulm(file: &str) -> PathBuf {
    root().join("../shared/data/ulm-ttn-2021").join(file)
}

fn ingest_ulm(out: &Path, extra: &[&str]) -> serde_json::Value {
    let measurements = ulm("measurements.csv");
    let gateways = ulm("gateways.csv");
    let mut args = vec![
        "ingest",
        measurements.to_str().unwrap(),
        "--gateways",
        gateways.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = hexcover(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    serde_json::from_str(&summary).unwrap()
}

#[test]
fn ingest_writes_the_study_directory() {
    let dir = tempfile::tempdir().unwrap();
    let summary = ingest_ulm(dir.path(), &["--res", "8,9,12", "--export", "geojson,csv"]);
    assert_eq!(summary["rows_read"], 35_876);
    assert_eq!(summary["accepted"], 35_120);
    assert_eq!(summary["rejected"], 756);
    assert_eq!(summary["rejected_by_reason"]["rx_without_position"], 756);
    assert_eq!(summary["balanced"], true);
    for res in ["8", "9", "12"] {
        assert!(summary["hexes"][res].as_u64().unwrap() > 0, "{res}");
        for ext in ["parquet", "geojson", "csv"] {
            let path = dir.path().join(format!("hexes_res{res}.{ext}"));
            assert!(path.exists(), "{}", path.display());
        }
    }
    for file in [
        "rejects.csv",
        "links.parquet",
        "sites.parquet",
        "summary.json",
    ] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
    // No temporary file is left behind.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "{name}");
    }
    let geojson: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("hexes_res9.geojson")).unwrap(),
    )
    .unwrap();
    let features = geojson["features"].as_array().unwrap();
    assert_eq!(
        features.len() as u64,
        summary["hexes"]["9"].as_u64().unwrap()
    );
    let total: u64 = features
        .iter()
        .map(|f| f["properties"]["n_links"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 35_120, "every link is counted in exactly one hex");
    let ring = features[0]["geometry"]["coordinates"][0]
        .as_array()
        .unwrap();
    assert_eq!(ring.len(), 7, "a hexagon ring, closed");
    assert_eq!(ring[0], ring[6]);
}

#[test]
fn export_rebuilds_hexes_from_links() {
    let dir = tempfile::tempdir().unwrap();
    let summary = ingest_ulm(dir.path(), &["--res", "9"]);
    let out = dir.path().join("exported");
    let output = hexcover(&[
        "export",
        dir.path().to_str().unwrap(),
        "--res",
        "9",
        "--to",
        "geojson,csv,geoparquet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let original = std::fs::read_to_string(dir.path().join("hexes_res9.csv"));
    assert!(original.is_err(), "ingest wrote no CSV unless asked");
    let csv = std::fs::read_to_string(out.join("hexes_res9.csv")).unwrap();
    assert_eq!(
        csv.lines().count() as u64 - 1,
        summary["hexes"]["9"].as_u64().unwrap()
    );
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("h3_cell,resolution,n_links")
    );
    assert!(out.join("hexes_res9.parquet").exists() && out.join("hexes_res9.geojson").exists());
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for sub in ["ingest", "export"] {
        let output = hexcover(&[sub, "--help"]);
        assert!(output.status.success());
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Examples:"), "{sub}: {text}");
        assert!(text.contains(&format!("hexcover {sub} ")), "{sub}: {text}");
    }
}

#[test]
fn bad_options_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let measurements = ulm("measurements.csv");
    let cases: [(&[&str], &str); 4] = [
        (&["--res", "16"], "invalid H3 resolution"),
        (&["--format", "shapefile"], "unknown format `shapefile`"),
        (&["--export", "kml"], "unknown export format `kml`"),
        (&[], "pass --gateways FILE"),
    ];
    for (extra, want) in cases {
        let mut args = vec![
            "ingest",
            measurements.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ];
        if !extra.is_empty() {
            args.extend_from_slice(&["--gateways", "../shared/data/ulm-ttn-2021/gateways.csv"]);
        }
        args.extend_from_slice(extra);
        let output = hexcover(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("hexcover: error: ") && stderr.contains(want),
            "{stderr}"
        );
    }
}
