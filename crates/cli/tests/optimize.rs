//! `hexcover optimize` end to end: the shared MCLP instance and bad input.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mclp(file: &str) -> PathBuf {
    let shared =
        std::env::var_os("HEXCOVER_SHARED").map_or_else(|| root().join("../shared"), PathBuf::from);
    shared.join("bench/mclp").join(file)
}

fn optimize(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hexcover"))
        .arg("optimize")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run hexcover")
}

/// A failed run with one error line that contains every `needle`.
fn assert_error(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "succeeded: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    for needle in needles {
        assert!(lines[0].contains(needle), "`{needle}` not in: {stderr}");
    }
}

#[test]
fn the_small_mclp_instance_reaches_99_5_percent_with_a_bound_above_the_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let name = "mclp_n1000_m200_p10_r3000_s1";
    let demand = mclp(&format!("{name}_demand.csv"));
    let candidates = mclp(&format!("{name}_candidates.csv"));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(mclp(&format!("{name}.json"))).unwrap())
            .unwrap();
    let optimum = meta["optimal_objective"]
        .as_f64()
        .expect("the instance records its optimum");
    let output = optimize(
        dir.path(),
        &[
            "--demand",
            demand.to_str().unwrap(),
            "--candidates",
            candidates.to_str().unwrap(),
            "--radius-m",
            "3000",
            "--sites",
            "10",
            "--out",
            "sel.csv",
            "--quiet",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let selection = std::fs::read_to_string(dir.path().join("sel.csv")).unwrap();
    let mut lines = selection.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,rank,x,y,marginal_gain,removal_loss,demand_added,bound_by"
    );
    let ids: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ids.len(), 10);

    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sel.summary.json")).unwrap(),
    )
    .unwrap();
    let objective = summary["objective"].as_f64().unwrap();
    assert!(
        objective >= 0.995 * optimum,
        "{objective} < 99.5 % of {optimum}"
    );
    assert!(objective <= optimum + 1e-6);
    assert_eq!(summary["bound"]["proven"], true);
    let upper = summary["bound"]["upper"].as_f64().unwrap();
    assert!(
        upper >= optimum - 1e-6,
        "bound {upper} below the optimum {optimum}"
    );
    let chosen: Vec<&str> = summary["sites_chosen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(chosen, ids);
    // Each site explains itself: the demand points it adds, consistent with the CSV.
    let first = &summary["sites"][0];
    assert_eq!(first["id"], ids[0]);
    let added = first["demand_added"].as_array().unwrap();
    let csv_count: usize = selection
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(6)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(added.len(), csv_count);
    assert!(
        added
            .iter()
            .all(|id| id.as_str().unwrap().parse::<u32>().unwrap() < 1000)
    );
}

/// Writes the small files the bad-input cases share.
fn fixtures(dir: &Path) {
    let files = [
        (
            "demand.csv",
            "id,x,y,weight\nd1,0,0,1\nd2,100,0,2\nd3,1000,0,1\n",
        ),
        (
            "negative.csv",
            "id,x,y,weight\nd1,0,0,1\nd2,100,0,2\nd3,1000,0,-1\n",
        ),
        ("candidates.csv", "id,x,y\nc1,0,0\nc2,50,0\nc3,1000,0\n"),
        ("no_y.csv", "id,x\nc1,0\n"),
        ("text.csv", "id,x,y\nc1,0,0\nc2,0,zero\n"),
        ("existing.csv", "id,x,y\ne1,10,0\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

#[test]
fn bad_input_is_a_one_line_error_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let base = |demand: &'static str, candidates: &'static str| {
        vec![
            "--demand",
            demand,
            "--candidates",
            candidates,
            "--radius-m",
            "200",
            "--out",
            "sel.csv",
        ]
    };
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--sites", "1", "--lock", "nope"],
            vec!["--lock", "`nope`", "candidates.csv"],
        ),
        (
            vec!["--sites", "5"],
            vec!["5 new sites", "only 3 candidates"],
        ),
        (vec!["--sites", "0"], vec!["at least 1"]),
        (vec!["--sites", "1", "--k", "0"], vec!["k ≥ 1"]),
        (vec!["--sites", "1", "--budget", "0.5"], vec!["budget"]),
        (
            vec![
                "--sites",
                "1",
                "--min-spacing-m",
                "5000",
                "--existing",
                "existing.csv",
            ],
            vec!["infeasible", "spacing"],
        ),
        (
            vec!["--sites", "1", "--max-distance-m", "100"],
            vec!["--existing"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = base("demand.csv", "candidates.csv");
        args.extend(extra);
        assert_error(&optimize(dir.path(), &args), &needles);
    }
    let mut args = base("negative.csv", "candidates.csv");
    args.extend(["--sites", "1"]);
    assert_error(
        &optimize(dir.path(), &args),
        &["negative.csv", "d3", "weight -1"],
    );
    let mut args = base("demand.csv", "no_y.csv");
    args.extend(["--sites", "1"]);
    assert_error(&optimize(dir.path(), &args), &["no_y.csv", "no `y` column"]);
    let mut args = base("demand.csv", "text.csv");
    args.extend(["--sites", "1"]);
    assert_error(
        &optimize(dir.path(), &args),
        &["text.csv:3", "`y`", "`zero`"],
    );
    let mut args = base("demand.csv", "missing.csv");
    args.extend(["--sites", "1"]);
    assert_error(
        &optimize(dir.path(), &args),
        &["missing.csv", "cannot open"],
    );
    let args = [
        "--demand",
        "demand.csv",
        "--candidates",
        "candidates.csv",
        "--radius-m=-5",
        "--sites",
        "1",
        "--out",
        "sel.csv",
    ];
    assert_error(&optimize(dir.path(), &args), &["radius -5"]);
    assert!(
        !dir.path().join("sel.csv").exists(),
        "a failed run left an answer behind"
    );
}

#[test]
fn a_locked_candidate_counts_as_built() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    // c3 alone covers d3 (weight 1); locked, it is built, so one new site
    // (c2 covers d1 and d2, weight 3) brings the total to 4 of 4.
    let output = optimize(
        dir.path(),
        &[
            "--demand",
            "demand.csv",
            "--candidates",
            "candidates.csv",
            "--radius-m",
            "200",
            "--sites",
            "1",
            "--lock",
            "c3",
            "--out",
            "sel.csv",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sel.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["locked"][0], "c3");
    assert_eq!(summary["base_objective"].as_f64().unwrap(), 1.0);
    assert_eq!(summary["objective"].as_f64().unwrap(), 4.0);
    let chosen = summary["sites_chosen"].as_array().unwrap();
    assert_eq!(chosen.len(), 1);
    assert_ne!(chosen[0], "c3");
}

#[test]
fn spacing_that_leaves_no_room_says_so_beside_a_partial_answer() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let output = optimize(
        dir.path(),
        &[
            "--demand",
            "demand.csv",
            "--candidates",
            "candidates.csv",
            "--radius-m",
            "200",
            "--sites",
            "3",
            "--min-spacing-m",
            "2000",
            "--out",
            "sel.csv",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("fewer sites than asked") && stderr.contains("spacing"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sel.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["sites_chosen"].as_array().unwrap().len(), 1);
    assert!(summary["shortfall"].as_str().unwrap().contains("spacing"));
    // The bound ignores spacing, so it is a valid but loose relaxation.
    assert_eq!(summary["bound"]["relaxes"][0], "spacing");
}

fn shared() -> PathBuf {
    std::env::var_os("HEXCOVER_SHARED").map_or_else(|| root().join("../shared"), PathBuf::from)
}

/// An ingested Ulm study in `dir/ulm`.
fn ulm_study(dir: &Path) -> PathBuf {
    let ulm = shared().join("data/ulm-ttn-2021");
    let study = dir.join("ulm");
    let output = Command::new(env!("CARGO_BIN_EXE_hexcover"))
        .arg("ingest")
        .arg(ulm.join("measurements.csv"))
        .arg("--gateways")
        .arg(ulm.join("gateways.csv"))
        .arg("--out")
        .arg(&study)
        .arg("--quiet")
        .output()
        .expect("run hexcover ingest");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    study
}

/// Great-circle distance, m.
fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

#[test]
fn geographic_mode_places_sites_on_ulm_with_the_spacing_rule() {
    let dir = tempfile::tempdir().unwrap();
    let study = ulm_study(dir.path());
    let dem = shared().join("data/srtm3-ulm");
    // Coarse cells and a short radius keep the debug-build test quick.
    let output = optimize(
        dir.path(),
        &[
            "--study",
            study.to_str().unwrap(),
            "--dem",
            dem.to_str().unwrap(),
            "--sites",
            "3",
            "--demand-res",
            "8",
            "--candidate-res",
            "7",
            "--coverage-radius-km",
            "5",
            "--min-spacing-m",
            "2000",
            "--anneal-iterations",
            "2000",
            "--out",
            "sel.csv",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("physics baseline"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sel.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["mode"], "geographic");
    assert_eq!(summary["existing_sites"].as_array().unwrap().len(), 15);
    let cells = summary["n_demand_cells"].as_f64().unwrap();
    let covered = summary["expected_cells_covered_by_existing"]
        .as_f64()
        .unwrap();
    assert!(
        cells > 50.0 && (0.0..=cells).contains(&covered),
        "{summary}"
    );
    assert_eq!(summary["bound"]["proven"], true);

    // Chosen sites keep 2 km from each other and from every existing gateway.
    let selection = std::fs::read_to_string(dir.path().join("sel.csv")).unwrap();
    let mut rows = selection.lines();
    assert!(
        rows.next()
            .unwrap()
            .starts_with("id,rank,lat,lon,height_agl_m,")
    );
    let chosen: Vec<(f64, f64)> = rows
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect();
    assert!(!chosen.is_empty() && chosen.len() <= 3);
    let gateways =
        std::fs::read_to_string(shared().join("data/ulm-ttn-2021/gateways.csv")).unwrap();
    let existing: Vec<(f64, f64)> = gateways
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?))
        })
        .collect();
    for (i, &a) in chosen.iter().enumerate() {
        for &b in chosen.iter().skip(i + 1).chain(&existing) {
            // The solver's local plane and the haversine agree to well under 1 %.
            assert!(
                haversine_m(a, b) >= 1980.0,
                "{a:?} and {b:?}: {} m",
                haversine_m(a, b)
            );
        }
    }
}

#[test]
fn geographic_mode_bad_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let dem = shared().join("data/srtm3-ulm");
    let dem = dem.to_str().unwrap();
    let empty_study = dir.path().join("empty");
    std::fs::create_dir_all(&empty_study).unwrap();
    let empty = empty_study.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--study", empty], vec!["--dem"]),
        (
            vec!["--study", empty, "--dem", dem, "--radius-m", "100"],
            vec!["planar"],
        ),
        (
            vec!["--study", empty, "--dem", dem],
            vec!["links.parquet", "hexcover ingest"],
        ),
        (
            vec!["--study", empty, "--dem", dem, "--demand-res", "16"],
            vec!["--demand-res", "16"],
        ),
        (
            vec!["--study", empty, "--dem", "no-such-dem"],
            vec!["--dem", "no-such-dem"],
        ),
        (
            vec!["--study", empty, "--dem", dem, "--k", "2"],
            vec!["--k"],
        ),
        (
            vec!["--study", empty, "--dem", dem, "--min-spacing-m=-1"],
            vec!["--min-spacing-m"],
        ),
        (
            vec!["--study", empty, "--dem", dem, "--coverage-radius-km", "0"],
            vec!["--coverage-radius-km"],
        ),
        (
            vec![
                "--demand",
                "demand.csv",
                "--candidates",
                "candidates.csv",
                "--radius-m",
                "5",
                "--hex-density",
            ],
            vec!["--hex-density", "--study"],
        ),
        (
            vec![
                "--demand",
                "demand.csv",
                "--candidates",
                "candidates.csv",
                "--radius-m",
                "5",
                "--dem",
                dem,
            ],
            vec!["--study"],
        ),
        (
            vec!["--candidates", "candidates.csv"],
            vec!["--demand", "--radius-m"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["--sites", "1", "--out", "sel.csv"];
        args.extend(extra);
        assert_error(&optimize(dir.path(), &args), &needles);
    }
}

#[test]
fn geographic_candidates_come_from_a_csv_with_heights_and_costs() {
    let dir = tempfile::tempdir().unwrap();
    let study = ulm_study(dir.path());
    let dem = shared().join("data/srtm3-ulm");
    std::fs::write(
        dir.path().join("cand.csv"),
        "id,lat,lon,height_agl_m,cost\nroof,48.3550,10.0100,25,3\nmast,48.3300,10.0800,,1\nfar,48.3000,10.1300,12,1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("no_lon.csv"), "id,lat\nroof,48.3550\n").unwrap();
    std::fs::write(
        dir.path().join("bad_lat.csv"),
        "id,lat,lon\nroof,148.3550,10.01\n",
    )
    .unwrap();
    let run = |candidates: &str, extra: &[&str]| {
        let mut args = vec![
            "--study",
            study.to_str().unwrap(),
            "--dem",
            dem.to_str().unwrap(),
            "--candidates",
            candidates,
            "--sites",
            "2",
            "--demand-res",
            "8",
            "--coverage-radius-km",
            "5",
            "--out",
            "sel.csv",
        ];
        args.extend_from_slice(extra);
        optimize(dir.path(), &args)
    };
    let output = run("cand.csv", &["--budget", "2", "--weighting", "uniform"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let selection = std::fs::read_to_string(dir.path().join("sel.csv")).unwrap();
    let ids: Vec<&str> = selection
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    // The budget of 2 rules out the rooftop (cost 3): the two cheap sites remain.
    assert!(!ids.is_empty() && !ids.contains(&"roof"), "{selection}");
    // The two cheap sites fit the budget; the empty height takes the default (10 m).
    let mast = selection
        .lines()
        .find(|l| l.starts_with("mast,"))
        .expect("mast chosen");
    assert_eq!(mast.split(',').nth(4).unwrap(), "10");
    assert_error(&run("no_lon.csv", &[]), &["no_lon.csv", "no `lon` column"]);
    assert_error(&run("bad_lat.csv", &[]), &["bad_lat.csv:2", "latitude"]);
    assert_error(
        &run("cand.csv", &["--weighting", "most"]),
        &["--weighting", "`most`"],
    );
}
