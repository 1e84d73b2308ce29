//! `hexcover run`: a whole (small) study on the real Ulm data and terrain;
//! a second run skips every stage, a changed parameter reruns only the
//! stages downstream of it, a run killed mid-stage resumes without corrupt
//! output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn hexcover() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hexcover"))
}

/// A study like studies/ulm.toml, made small enough for a debug test: one
/// resolution, a small model with 2-fold CV, 2 km coverage, 2 sites.
fn config(dir: &Path, sites: usize) -> PathBuf {
    let data = shared();
    let text = format!(
        r#"[study]
name = "Ulm, small"
dir = "study"

[ingest]
inputs = ["{ulm}/measurements.csv"]
gateways = "{ulm}/gateways.csv"
resolutions = [9]

[terrain]
dem = "{dem}"

[radio]
device_height_m = 2.0

[model]
cv_folds = 2
trees = 15
depth = 3

[coverage]
radius_km = 2
res = 9

[placement]
sites = {sites}
coverage_radius_km = 2
anneal_iterations = 500
bound_iterations = 50

[export]
max_zoom = 9
"#,
        ulm = data.join("ulm-ttn-2021").display(),
        dem = data.join("srtm3-ulm").display(),
    );
    let path = dir.join("study.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(config: &Path) -> Value {
    let out = hexcover().arg("run").arg(config).output().unwrap();
    assert!(
        out.status.success(),
        "hexcover run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = config.parent().unwrap().join("study");
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expect(report: &Value, wanted: [&str; 5]) {
    let names = ["ingest", "train", "coverage", "optimize", "export"];
    let want: Vec<(String, String)> = names
        .iter()
        .zip(wanted)
        .map(|(n, s)| ((*n).to_owned(), s.to_owned()))
        .collect();
    assert_eq!(statuses(report), want);
}

#[test]
fn rerun_skips_and_a_changed_parameter_reruns_only_downstream() {
    let tmp = tempfile::tempdir().unwrap();
    let config_path = config(tmp.path(), 2);
    let dir = tmp.path().join("study");

    let first = run(&config_path);
    expect(&first, ["ran"; 5]);
    for file in [
        "links.parquet",
        "sites.parquet",
        "hexes_res9.parquet",
        "rejects.csv",
        "summary.json",
        "model.json",
        "cv_predictions.csv",
        "suggested.csv",
        "suggested.summary.json",
        "map.pmtiles",
        "report.md",
        "report.json",
        "manifests/ingest.json",
        "manifests/export.json",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let coverage = std::fs::read_dir(dir.join("coverage")).unwrap().count();
    assert_eq!(
        coverage,
        first["coverage"]["sites"].as_u64().unwrap() as usize
    );
    assert!(coverage > 10, "{coverage} coverage files");
    assert!(!dir.join(".staging").join("ingest").exists());
    // The report's figures are the stages' own.
    let ingest = &first["ingest"];
    assert_eq!(
        ingest["rows_read"].as_u64().unwrap(),
        ingest["accepted"].as_u64().unwrap() + ingest["rejected"].as_u64().unwrap()
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(ingest["links"], summary["links"]);
    // The summary names the outputs where they ended up, not in staging.
    let outputs = summary["outputs"].as_array().unwrap();
    assert!(
        outputs
            .iter()
            .all(|o| !o.as_str().unwrap().contains(".staging")),
        "{outputs:?}"
    );
    assert_eq!(first["placement"]["sites"].as_array().unwrap().len(), 2);
    let scores = first["model"]["cv"]["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 8, "seven physics models and the learned one");
    let cv_rows = std::fs::read_to_string(dir.join("cv_predictions.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        cv_rows as u64 - 1,
        first["model"]["training_rows"].as_u64().unwrap()
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Suggested sites") && md.contains("learned"),
        "{md}"
    );

    // Nothing changed: every stage is skipped and no output is rewritten.
    let links_before = std::fs::metadata(dir.join("links.parquet"))
        .unwrap()
        .modified()
        .unwrap();
    let second = run(&config_path);
    expect(&second, ["skipped"; 5]);
    let links_after = std::fs::metadata(dir.join("links.parquet"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(links_before, links_after);
    // A skipped stage still reports its figures (from its manifest).
    assert_eq!(second["placement"], first["placement"]);

    // One placement parameter: only placement and the map archive rerun.
    let config_path = config(tmp.path(), 1);
    let third = run(&config_path);
    expect(&third, ["skipped", "skipped", "skipped", "ran", "ran"]);
    assert_eq!(third["placement"]["sites"].as_array().unwrap().len(), 1);

    // A deleted output is noticed: its stage reruns; the same answer means
    // the stages after it stay skipped.
    std::fs::remove_file(dir.join("model.json")).unwrap();
    let fourth = run(&config_path);
    expect(&fourth, ["skipped", "ran", "skipped", "skipped", "skipped"]);
}

#[test]
fn a_run_killed_mid_stage_resumes_without_corrupt_output() {
    let tmp = tempfile::tempdir().unwrap();
    let config_path = config(tmp.path(), 2);
    let dir = tmp.path().join("study");
    let mut child = hexcover()
        .arg("run")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while the model trains (after ingest finished).
    let training = dir.join(".staging").join("train");
    let started = Instant::now();
    while !training.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the train stage never started"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before it could be killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(dir.join("manifests/ingest.json").is_file());
    assert!(!dir.join("manifests/train.json").exists());
    assert!(!dir.join("model.json").exists(), "a half-trained model");
    assert!(
        dir.join(".run.lock").exists(),
        "the killed run's lock is left"
    );

    // The rerun takes over the stale lock, skips ingest and finishes.
    let report = run(&config_path);
    expect(&report, ["skipped", "ran", "ran", "ran", "ran"]);
    assert!(!dir.join(".run.lock").exists());
    let links = hexcover_export::read_sites_geoparquet(&dir.join("sites.parquet")).unwrap();
    assert!(!links.is_empty());
    let model: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap();
    assert_eq!(model["format"], "hexcover-learned-rssi/1");
}

#[test]
fn a_bad_config_names_the_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let path = config(tmp.path(), 2);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("sites = 2", "sites = \"two\"");
    std::fs::write(&path, text).unwrap();
    let out = hexcover().arg("run").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("study.toml") && err.contains("sites"), "{err}");
    assert!(!tmp.path().join("study").exists(), "nothing written");
}
