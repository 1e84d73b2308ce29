//! `hexcover coverage` end to end on the real SRTM3 tiles around Ulm.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{hexcover, root};

fn srtm() -> String {
    root()
        .join("../shared/data/srtm3-ulm")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The Ulm Minster gateway (ulm-ttn-2021/gateways.csv), 10 m up.
const MINSTER: &str = "48.3985081189661,9.991811778526625,10";

#[test]
fn coverage_of_an_ulm_gateway_with_the_physics_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("minster.parquet");
    let dem = srtm();
    let output = hexcover(&[
        "coverage",
        "--dem",
        &dem,
        "--site",
        MINSTER,
        "--radius-km",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("physics baseline"), "{stderr}");
    // π·2²/0.0151 km² ≈ 830 res-10 cells.
    let cells: usize = stdout.split_whitespace().next().unwrap().parse().unwrap();
    assert!((780..880).contains(&cells), "{stdout}");
    assert!(stdout.contains("0 cells without terrain"), "{stdout}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    // The run's assumptions are in the file.
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("hexcover:coverage_run"));
    assert!(
        text.contains("\"threshold_dbm\":-130.0"),
        "threshold not recorded"
    );

    // --quiet prints nothing; options change the numbers they should.
    let quiet = hexcover(&[
        "coverage",
        "--dem",
        &dem,
        "--site",
        MINSTER,
        "--radius-km",
        "1",
        "--res",
        "9",
        "--eirp-dbm",
        "14",
        "--threshold-dbm",
        "-137",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(quiet.status.success());
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cov.parquet");
    let out = out.to_str().unwrap();
    let dem = srtm();
    let missing = dir.path().join("missing.json");
    let not_a_model = dir.path().join("not-a-model.json");
    std::fs::write(&not_a_model, "{\"format\": 1}").unwrap();
    for (site, radius, res, extra, expected) in [
        ("48.4", "2", "10", None, "--site `48.4`"),
        ("48.4,ten", "2", "10", None, "--site `48.4,ten`"),
        ("48.4,10,1,2", "2", "10", None, "--site"),
        ("95,10", "2", "10", None, "latitude must be within"),
        ("48.4,10,-3", "2", "10", None, "antenna height"),
        (MINSTER, "0", "10", None, "--radius-km = 0"),
        (MINSTER, "-5", "10", None, "--radius-km = -5"),
        (MINSTER, "2", "16", None, "--res = 16"),
        (MINSTER, "2", "-1", None, "--res = -1"),
        (MINSTER, "150", "15", None, "million cells"),
        ("52.52,13.40,10", "2", "10", None, "no terrain there"),
        (
            MINSTER,
            "2",
            "10",
            Some(missing.to_str().unwrap()),
            "missing.json",
        ),
        (
            MINSTER,
            "2",
            "10",
            Some(not_a_model.to_str().unwrap()),
            "not a hexcover model file",
        ),
    ] {
        let mut args = vec![
            "coverage",
            "--dem",
            &dem,
            "--site",
            site,
            "--radius-km",
            radius,
            "--res",
            res,
            "--out",
            out,
        ];
        if let Some(model) = extra {
            args.extend(["--model", model]);
        }
        let output = hexcover(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{site} {radius} {res}: {stderr}"
        );
        assert!(stderr.starts_with("hexcover: error: "), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A DEM folder that does not exist.
    let output = hexcover(&[
        "coverage",
        "--dem",
        "/nonexistent/dem",
        "--site",
        MINSTER,
        "--radius-km",
        "2",
        "--out",
        out,
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--dem /nonexistent/dem"), "{stderr}");
    assert!(!Path::new(out).exists());
}

#[test]
fn coverage_with_a_model_trained_on_ulm() {
    // A small real model (5 trees, 90 m steps) keeps the debug-build test quick.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    let ulm = root().join("../shared/data/ulm-ttn-2021");
    let dem = srtm();
    let trained = hexcover(&[
        "train",
        "--links",
        ulm.join("measurements.csv").to_str().unwrap(),
        "--gateways",
        ulm.join("gateways.csv").to_str().unwrap(),
        "--dem",
        &dem,
        "--device-height-m",
        "2",
        "--cv-folds",
        "0",
        "--trees",
        "5",
        "--depth",
        "3",
        "--profile-step-m",
        "90",
        "--quiet",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let out = dir.path().join("cov.parquet");
    let output = hexcover(&[
        "coverage",
        "--dem",
        &dem,
        "--site",
        MINSTER,
        "--radius-km",
        "2",
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("physics baseline"), "{stderr}");
    // The learned model, at the step it was trained with.
    assert!(stdout.contains("model: learned"), "{stdout}");
    assert!(stdout.contains("step 90 m"), "{stdout}");
    let text = String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned();
    assert!(
        text.contains("learned (gradient-boosted trees"),
        "model not recorded"
    );
}
