//! `hexcover train`, `evaluate` and `predict` end to end on real data: a
//! slice of the Ulm drive test (every 12th row, so every part of the city is
//! in it) over the SRTM tiles, with small models so debug builds stay quick.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{hexcover, ok, root};

fn data(rel: &str) -> String {
    root()
        .join("../shared/data")
        .join(rel)
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every 12th row of the Ulm measurements (header kept), as written.
fn ulm_slice(dir: &Path) -> (PathBuf, usize) {
    let text = std::fs::read_to_string(data("ulm-ttn-2021/measurements.csv")).unwrap();
    let mut lines = text.lines();
    let mut out = String::from(lines.next().unwrap());
    out.push('\n');
    let mut rows = 0;
    for (i, line) in lines.enumerate() {
        if (i + 2) % 12 == 0 {
            out.push_str(line);
            out.push('\n');
            rows += 1;
        }
    }
    let path = dir.join("ulm_slice.csv");
    std::fs::write(&path, out).unwrap();
    (path, rows)
}

fn common<'a>(links: &'a str, gateways: &'a str, dem: &'a str) -> Vec<&'a str> {
    vec![
        "--links",
        links,
        "--gateways",
        gateways,
        "--dem",
        dem,
        "--device-height-m",
        "2",
    ]
}

#[test]
fn train_then_predict_on_ulm() {
    let dir = tempfile::tempdir().unwrap();
    let (slice, rows) = ulm_slice(dir.path());
    let (gateways, dem) = (data("ulm-ttn-2021/gateways.csv"), data("srtm3-ulm"));
    let model = dir.path().join("model.json");
    let mut args = vec!["train"];
    args.extend(common(slice.to_str().unwrap(), &gateways, &dem));
    args.extend([
        "--trees",
        "20",
        "--cv-folds",
        "2",
        "--out",
        model.to_str().unwrap(),
        "-q",
    ]);
    ok(&hexcover(&args));

    // The model file records features, hyperparameters, data hash, radio
    // assumptions and the blocked-CV metrics.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(json["format"], "hexcover-learned-rssi/1");
    assert_eq!(
        json["feature_names"].as_array().unwrap().len(),
        hexcover_propagation::FEATURE_COUNT
    );
    assert_eq!(json["params"]["gbm"]["n_trees"], 20);
    assert_eq!(json["params"]["physics_monotone"], true);
    assert_eq!(json["training_data_fnv1a64"].as_str().unwrap().len(), 16);
    assert_eq!(json["metadata"]["device_height_m"], "2");
    let cv: serde_json::Value =
        serde_json::from_str(json["metadata"]["cv"].as_str().unwrap()).unwrap();
    let scores = cv["scores"].as_array().unwrap();
    assert_eq!(scores.len(), hexcover_propagation::PHYSICS_MODELS.len() + 1);
    // Gateways without a position are rejected by ingest, written, not trained on.
    let rejects = std::fs::read_to_string(dir.path().join("model.rejects.csv")).unwrap();
    let rejected = rejects.lines().count() - 1;
    assert!(rejected > 0);
    assert!(rejects.contains("rx_without_position"));
    let trained = json["training_rows"].as_u64().unwrap() as usize;
    assert_eq!(trained + rejected, rows);
    // Training is deterministic: the same inputs give the same file.
    let again = dir.path().join("again.json");
    let pos = args
        .iter()
        .position(|a| *a == model.to_str().unwrap())
        .unwrap();
    args[pos] = again.to_str().unwrap();
    ok(&hexcover(&args));
    assert_eq!(
        std::fs::read_to_string(&model).unwrap(),
        std::fs::read_to_string(&again).unwrap()
    );
    // Without the physics constraints the file says so, and the summary
    // names the choice.
    let free = dir.path().join("free.json");
    args[pos] = free.to_str().unwrap();
    let quiet = args.iter().position(|a| *a == "-q").unwrap();
    args.remove(quiet);
    args.push("--no-physics-constraints");
    let stdout = ok(&hexcover(&args));
    assert!(stdout.contains("not held to physics"), "{stdout}");
    assert!(stdout.contains("by inner CV (RMSE by place"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&free).unwrap()).unwrap();
    assert_eq!(json["params"]["physics_monotone"], false);

    let predictions = dir.path().join("pred.csv");
    let mut args = vec!["predict", "--model", model.to_str().unwrap()];
    args.extend(common(slice.to_str().unwrap(), &gateways, &dem));
    args.extend(["--out", predictions.to_str().unwrap(), "-q"]);
    ok(&hexcover(&args));
    let text = std::fs::read_to_string(&predictions).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "input,input_row,receiver,rssi_dbm,rssi_pred_dbm,rssi_p10_dbm,rssi_p90_dbm,p_covered,problem"
    );
    let source = std::fs::read_to_string(&slice).unwrap();
    let source: Vec<&str> = source.lines().collect();
    let mut n = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        // One row per accepted link, pointing at its input line, with its RSSI.
        let row: usize = f[1].parse().unwrap();
        let original: Vec<&str> = source[row - 1].split(',').collect();
        assert_eq!(f[2], original[3]);
        assert_eq!(
            f[3].parse::<f64>().unwrap(),
            original[2].parse::<f64>().unwrap()
        );
        let v: Vec<f64> = f[4..8].iter().map(|x| x.parse().unwrap()).collect();
        // The interval is calibrated residual quantiles: ordered, but it may
        // lie wholly on one side of the mean (see LearnedModel's docs).
        assert!(v[1] <= v[2], "{line}");
        assert!((0.0..=1.0).contains(&v[3]), "{line}");
        assert!(f[8].is_empty());
        n += 1;
    }
    assert_eq!(n, trained);
}

#[test]
fn evaluate_prints_every_model() {
    let dir = tempfile::tempdir().unwrap();
    let (slice, _) = ulm_slice(dir.path());
    let (gateways, dem) = (data("ulm-ttn-2021/gateways.csv"), data("srtm3-ulm"));
    let table = dir.path().join("table.md");
    let mut args = vec!["evaluate"];
    args.extend(common(slice.to_str().unwrap(), &gateways, &dem));
    args.extend([
        "--trees",
        "10",
        "--folds",
        "2",
        "--block-res",
        "7",
        "--out",
        table.to_str().unwrap(),
        "-q",
    ]);
    ok(&hexcover(&args));
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(text.contains("blocked CV: 2 folds of H3 res-7 blocks"));
    assert!(text.contains("leave-one-receiver-out"));
    for model in hexcover_propagation::PHYSICS_MODELS {
        assert_eq!(text.matches(&format!("| {model} |")).count(), 2, "{model}");
    }
    assert_eq!(text.matches("| learned").count(), 2);
    // Each scheme says which candidate each fold's inner CV chose.
    assert_eq!(
        text.matches("Learned model's candidate per fold").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("0: constant base, 10 trees of depth 5"),
        "{text}"
    );

    // --extra-seeds: a learned row per seed, the physics rows once.
    let pos = args.iter().position(|a| *a == "-q").unwrap();
    args.splice(pos..pos, ["--no-loro", "--extra-seeds", "3,11"]);
    ok(&hexcover(&args));
    let text = std::fs::read_to_string(&table).unwrap();
    for seed in [7, 3, 11] {
        let row = format!("| learned (GBM + receiver offsets), seed {seed} |");
        assert_eq!(text.matches(&row).count(), 1, "{text}");
    }
    assert_eq!(text.matches("| free space |").count(), 1);
}

#[test]
fn bad_model_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (gateways, dem) = (data("ulm-ttn-2021/gateways.csv"), data("srtm3-ulm"));
    let links = data("ulm-ttn-2021/measurements.csv");
    let missing = dir.path().join("missing.csv");
    let bad_model = dir.path().join("bad.json");
    std::fs::write(&bad_model, "{\"format\": \"something else\"}").unwrap();
    let out = dir.path().join("x.json");
    let m = missing.to_str().unwrap().to_owned();
    let b = bad_model.to_str().unwrap().to_owned();
    let o = out.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--links", &m, "--dem", &dem, "--out", &o],
            "missing.csv: no such file",
        ),
        (
            vec![
                "train",
                "--links",
                &links,
                "--gateways",
                &gateways,
                "--dem",
                &dem,
                "--depth",
                "0",
                "--out",
                &o,
            ],
            "--depth = 0",
        ),
        (
            vec![
                "train",
                "--links",
                &links,
                "--gateways",
                &gateways,
                "--dem",
                "/nonexistent/dem",
                "--out",
                &o,
            ],
            "--dem /nonexistent/dem",
        ),
        (
            vec![
                "evaluate",
                "--links",
                &links,
                "--gateways",
                &gateways,
                "--dem",
                &dem,
                "--out",
                "table.txt",
            ],
            "expected a .md or .json file",
        ),
        (
            vec![
                "predict",
                "--model",
                &b,
                "--links",
                &links,
                "--gateways",
                &gateways,
                "--dem",
                &dem,
                "--out",
                &o,
            ],
            "bad.json: not a hexcover model file",
        ),
        (
            vec![
                "train",
                "--links",
                &links,
                "--gateways",
                &gateways,
                "--dem",
                &dem,
                "--device-height-m",
                "-3",
                "--out",
                &o,
            ],
            "--device-height-m = -3",
        ),
    ];
    for (args, want) in cases {
        let output = hexcover(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("hexcover: error: ") && stderr.contains(want),
            "{want}: {stderr}"
        );
    }
    assert!(!out.exists());
}

#[test]
fn model_commands_have_help_with_an_example() {
    for sub in ["train", "evaluate", "predict"] {
        let output = hexcover(&[sub, "--help"]);
        let text = ok(&output);
        assert!(text.contains("Examples:"), "{sub}: {text}");
        assert!(text.contains(&format!("hexcover {sub} ")), "{sub}: {text}");
    }
}
