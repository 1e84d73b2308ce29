//! The run's report, `report.json` and `report.md`: what every stage did
//! and the figures a planner asks for first (rows, hexes, model CV, the
//! suggested sites with their gains and the gap to the bound, the outputs).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Value, json};

use super::config::StudyConfig;
use super::manifest::Manifest;
use super::stages::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ran in this run.
    Ran,
    /// Up to date: its manifest matched.
    Skipped,
    /// Turned off in the config.
    Off,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Self::Ran => "ran",
            Self::Skipped => "skipped (up to date)",
            Self::Off => "off in the config",
        }
    }
}

/// One stage of this run.
pub struct StageRun {
    stage: Stage,
    pub status: Status,
    pub seconds: f64,
    manifest: Option<Manifest>,
}

impl StageRun {
    pub fn new(stage: Stage, status: Status, seconds: f64, manifest: Option<Manifest>) -> Self {
        Self {
            stage,
            status,
            seconds,
            manifest,
        }
    }

    fn metrics(&self) -> Value {
        self.manifest
            .as_ref()
            .map_or(Value::Null, |m| m.metrics.clone())
    }
}

pub struct Report {
    json: Value,
}

impl Report {
    pub fn new(
        config: &StudyConfig,
        config_path: &Path,
        runs: &[StageRun],
        took: Duration,
    ) -> Self {
        let dir = &config.study.dir;
        let stages: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "stage": r.stage.name(),
                    "status": r.status,
                    "seconds": round(r.seconds, 2),
                    "manifest": r.manifest.as_ref().map(|_| super::manifest::path(dir, r.stage.name()).display().to_string()),
                })
            })
            .collect();
        let metric = |stage: Stage| {
            runs.iter()
                .find(|r| r.stage == stage)
                .map_or(Value::Null, StageRun::metrics)
        };
        // The files a stage's manifest lists, as paths in the study.
        let written = |r: &StageRun| -> Vec<String> {
            r.manifest.as_ref().map_or_else(Vec::new, |m| {
                m.outputs
                    .iter()
                    .map(|o| dir.join(&o.path).display().to_string())
                    .collect()
            })
        };
        let mut outputs: Vec<String> = runs.iter().flat_map(written).collect();
        outputs.sort();
        // What the ingest stage wrote, for the terminal summary.
        let ingest_outputs: Vec<String> = runs
            .iter()
            .filter(|r| r.stage == Stage::Ingest)
            .flat_map(written)
            .collect();
        let json = json!({
            "study": config.study.name,
            "config": config_path.display().to_string(),
            "dir": dir.display().to_string(),
            "finished": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            "seconds": round(took.as_secs_f64(), 2),
            "stages": stages,
            "ingest": metric(Stage::Ingest),
            "model": metric(Stage::Train),
            "coverage": metric(Stage::Coverage),
            "placement": metric(Stage::Optimize),
            "export": metric(Stage::Export),
            "outputs": outputs,
            "ingest_outputs": ingest_outputs,
        });
        Self { json }
    }

    /// Write report.json and report.md into `dir` (atomically); their paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let json_path = dir.join("report.json");
        let md_path = dir.join("report.md");
        let json = serde_json::to_string_pretty(&self.json)? + "\n";
        let md = self.markdown();
        for (path, text) in [(&json_path, &json), (&md_path, &md)] {
            hexcover_export::write_atomically(path, |tmp| {
                std::fs::write(tmp, text).map_err(|e| hexcover_export::Error::Io {
                    path: tmp.to_owned(),
                    source: e,
                })
            })?;
        }
        Ok(vec![md_path, json_path])
    }

    /// The stage lines and the headline figures, for the terminal.
    pub fn summary_text(&self) -> String {
        let j = &self.json;
        let mut s = String::new();
        let _ = writeln!(s, "hexcover run {}", text(&j["config"]));
        if let Some(stages) = j["stages"].as_array() {
            for st in stages {
                let _ = writeln!(
                    s,
                    "  {:<9} {}{}",
                    text(&st["stage"]),
                    text(&st["status"]),
                    seconds_note(st)
                );
            }
        }
        let i = &j["ingest"];
        let _ = writeln!(
            s,
            "rows read {}  accepted {}  rejected {}  links {}  sites {}",
            text(&i["rows_read"]),
            text(&i["accepted"]),
            text(&i["rejected"]),
            text(&i["links"]),
            text(&i["sites"])
        );
        if let Some(reasons) = i["rejected_by_reason"].as_object() {
            for (reason, n) in reasons {
                let _ = writeln!(s, "  rejected {reason}: {}", text(n));
            }
        }
        let hexes = hexes_by_resolution(i);
        if !hexes.is_empty() {
            let per_res: Vec<String> = hexes
                .iter()
                .map(|(res, n)| format!("res {res}: {}", text(n)))
                .collect();
            let _ = writeln!(s, "hexes {}", per_res.join("  "));
        }
        if let Some(learned) = learned_score(&j["model"]) {
            let _ = writeln!(
                s,
                "model blocked CV: RMSE {:.2} dB (hex-weighted {:.2}), inside 80 % interval {:.1} %",
                num(&learned["rmse_db"]),
                num(&learned["rmse_hex_db"]),
                100.0 * num(&learned["interval_80_share"])
            );
        }
        let p = &j["placement"];
        if !p.is_null() {
            let _ = writeln!(
                s,
                "suggested sites {}  objective {:.2}  upper bound {:.2}  gap {:.2} %",
                p["sites"].as_array().map_or(0, Vec::len),
                num(&p["objective"]),
                num(&p["bound"]["upper"]),
                100.0 * num(&p["bound"]["gap"])
            );
        }
        // Where the ingest's tables went; report.md lists every output.
        let ingest_files = j["ingest_outputs"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        if !ingest_files.is_empty() {
            s.push_str("ingest wrote:\n");
            for path in ingest_files {
                let _ = writeln!(s, "  {}", text(path));
            }
        }
        s
    }

    fn markdown(&self) -> String {
        let j = &self.json;
        let mut s = String::new();
        let title = j["study"].as_str().unwrap_or("study");
        let _ = writeln!(s, "# hexcover run: {title}\n");
        let _ = writeln!(
            s,
            "Config `{}` → `{}`, finished {} in {:.1} s.\n",
            text(&j["config"]),
            text(&j["dir"]),
            text(&j["finished"]),
            num(&j["seconds"])
        );
        s.push_str("## Stages\n\n| stage | status | seconds |\n|---|---|---:|\n");
        if let Some(stages) = j["stages"].as_array() {
            for st in stages {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.1} |",
                    text(&st["stage"]),
                    text(&st["status"]),
                    num(&st["seconds"])
                );
            }
        }
        let i = &j["ingest"];
        s.push_str("\n## Ingest\n\n");
        let _ = writeln!(
            s,
            "Rows read {}, accepted {}, rejected {} (accepted + rejected = rows read). Links {} ({} flagged invalid by the source), sites {}.\n",
            text(&i["rows_read"]),
            text(&i["accepted"]),
            text(&i["rejected"]),
            text(&i["links"]),
            text(&i["links_flagged_invalid"]),
            text(&i["sites"])
        );
        if let Some(reasons) = i["rejected_by_reason"].as_object()
            && !reasons.is_empty()
        {
            s.push_str("| rejected because | rows |\n|---|---:|\n");
            for (reason, n) in reasons {
                let _ = writeln!(s, "| {reason} | {} |", text(n));
            }
            s.push('\n');
        }
        let hexes = hexes_by_resolution(i);
        if !hexes.is_empty() {
            s.push_str("| H3 resolution | measured hexes |\n|---:|---:|\n");
            for (res, n) in hexes {
                let _ = writeln!(s, "| {res} | {} |", text(n));
            }
        }
        let m = &j["model"];
        s.push_str("\n## Model\n\n");
        let _ = writeln!(s, "Trained on {} links.", text(&m["training_rows"]));
        match m["cv"].as_object() {
            Some(cv) => {
                let _ = writeln!(s, "Held-out scores, {}:\n", text(&cv["scheme"]));
                s.push_str("| model | RMSE dB | hex-weighted RMSE dB | MAE dB | bias dB | inside 80 % interval |\n|---|---:|---:|---:|---:|---:|\n");
                for score in cv["scores"].as_array().into_iter().flatten() {
                    let _ = writeln!(
                        s,
                        "| {} | {:.2} | {:.2} | {:.2} | {:+.2} | {:.1} % |",
                        text(&score["model"]),
                        num(&score["rmse_db"]),
                        num(&score["rmse_hex_db"]),
                        num(&score["mae_db"]),
                        num(&score["bias_db"]),
                        100.0 * num(&score["interval_80_share"])
                    );
                }
            }
            None => s.push_str("No cross-validation in this study (`[model] cv_folds = 0`).\n"),
        }
        let c = &j["coverage"];
        if !c.is_null() {
            let _ = writeln!(
                s,
                "\n## Coverage\n\nPredicted coverage of {} existing sites, {} km around each, at H3 res {} (`coverage/`).",
                text(&c["sites"]),
                text(&c["radius_km"]),
                text(&c["res"])
            );
        }
        let p = &j["placement"];
        s.push_str("\n## Suggested sites\n\n");
        if p.is_null() {
            s.push_str("Placement is off in this study (`[placement] sites = 0`).\n");
        } else {
            let b = &p["bound"];
            let _ = writeln!(
                s,
                "{} demand cells, {} candidates. Objective (expected demand covered) {:.3}; upper bound {:.3} ({}); gap {:.4} %{}.\n",
                text(&p["n_demand_cells"]),
                text(&p["n_candidates"]),
                num(&p["objective"]),
                num(&b["upper"]),
                text(&b["method"]),
                100.0 * num(&b["gap"]),
                if b["proven"].as_bool() == Some(true) {
                    " (proven)"
                } else {
                    ""
                }
            );
            s.push_str("| rank | id | lat | lon | gain | demand cells added |\n|---:|---|---:|---:|---:|---:|\n");
            for site in p["sites"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.3} | {} |",
                    text(&site["rank"]),
                    text(&site["id"]),
                    text(&site["lat"]),
                    text(&site["lon"]),
                    num(&site["marginal_gain"]),
                    text(&site["demand_added"])
                );
            }
        }
        s.push_str("\n## Outputs\n\n");
        for o in j["outputs"].as_array().into_iter().flatten() {
            let _ = writeln!(s, "- `{}`", text(o));
        }
        s
    }
}

fn learned_score(model: &Value) -> Option<&Value> {
    model["cv"]["scores"].as_array()?.last()
}

/// The ingest's hex counts, finest resolution last.
fn hexes_by_resolution(ingest: &Value) -> Vec<(&String, &Value)> {
    let mut hexes: Vec<(&String, &Value)> = ingest["hexes"]
        .as_object()
        .map(|h| h.iter().collect())
        .unwrap_or_default();
    hexes.sort_by_key(|(res, _)| res.parse::<u8>().unwrap_or(u8::MAX));
    hexes
}

fn seconds_note(stage: &Value) -> String {
    if stage["status"] == "ran" {
        format!(" ({:.1} s)", num(&stage["seconds"]))
    } else {
        String::new()
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".to_owned(),
        Value::Number(n) => {
            // Whole numbers without ".0" (counts read back from JSON).
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
                _ => n.to_string(),
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_summary_gives_rejects_by_reason_hexes_and_the_ingest_files() {
        let report = Report {
            json: json!({
                "config": "studies/ulm.toml",
                "stages": [{"stage": "ingest", "status": "ran", "seconds": 0.7}],
                "ingest": {
                    "rows_read": 35876, "accepted": 35120, "rejected": 756,
                    "rejected_by_reason": {"rx_without_position": 756},
                    "links": 35120, "sites": 17,
                    "hexes": {"12": 6953, "8": 118, "9": 432},
                },
                "model": null,
                "placement": null,
                "ingest_outputs": [
                    "out/ulm/hexes_res12.parquet",
                    "out/ulm/links.parquet",
                    "out/ulm/rejects.csv",
                    "out/ulm/summary.json",
                ],
            }),
        };
        let text = report.summary_text();
        assert!(
            text.contains("rows read 35876  accepted 35120  rejected 756"),
            "{text}"
        );
        assert!(
            text.contains("  rejected rx_without_position: 756\n"),
            "{text}"
        );
        assert!(
            text.contains("hexes res 8: 118  res 9: 432  res 12: 6953\n"),
            "{text}"
        );
        let wrote = text
            .split("ingest wrote:\n")
            .nth(1)
            .expect("the ingest's files");
        assert_eq!(
            wrote.lines().collect::<Vec<_>>(),
            [
                "  out/ulm/hexes_res12.parquet",
                "  out/ulm/links.parquet",
                "  out/ulm/rejects.csv",
                "  out/ulm/summary.json",
            ]
        );
    }
}
