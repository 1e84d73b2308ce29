//! The stages of a study, each one of hexcover's commands called in process
//! with settings from the config, writing into its own staging folder.
//! Each stage declares its parameters (the config values it depends on) and
//! its inputs (files it reads: the config's inputs or upstream outputs), so
//! that a change reruns exactly the stages that depend on it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::config::StudyConfig;
use crate::args::{
    CoverageArgs, ExportArgs, GbmArgs, IngestArgs, LinkInputArgs, OptimizeArgs, RadioArgs,
    TrainArgs,
};

/// The stages in pipeline order.
pub const STAGES: [Stage; 5] = [
    Stage::Ingest,
    Stage::Train,
    Stage::Coverage,
    Stage::Optimize,
    Stage::Export,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Ingest,
    Train,
    Coverage,
    Optimize,
    Export,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Train => "train",
            Self::Coverage => "coverage",
            Self::Optimize => "optimize",
            Self::Export => "export",
        }
    }

    /// What the stage does, for progress lines.
    pub fn doing(self) -> &'static str {
        match self {
            Self::Ingest => "reading, validating and aggregating the inputs",
            Self::Train => "training the RSSI model (with blocked CV)",
            Self::Coverage => "predicting the coverage of every existing site",
            Self::Optimize => "choosing new sites",
            Self::Export => "writing the map archive",
        }
    }

    /// Off by config: the stage writes nothing (and its earlier outputs go).
    pub fn enabled(self, config: &StudyConfig) -> bool {
        match self {
            Self::Optimize => config.placement.sites > 0,
            Self::Export => config.export.pmtiles,
            _ => true,
        }
    }

    /// The config values the stage's outputs depend on.
    pub fn parameters(self, config: &StudyConfig) -> Value {
        let r = &config.radio;
        match self {
            Self::Ingest => json!({ "ingest": config.ingest }),
            Self::Train => json!({
                "model": config.model,
                "dem": config.terrain.dem,
                "radio": {
                    "device_height_m": r.device_height_m,
                    "rx_height_m": r.rx_height_m,
                    "freq_mhz": r.freq_mhz,
                    "profile_step_m": r.profile_step_m,
                },
            }),
            Self::Coverage => json!({
                "coverage": config.coverage,
                "dem": config.terrain.dem,
                "radio": r,
            }),
            Self::Optimize => json!({
                "placement": config.placement,
                "dem": config.terrain.dem,
                "threshold_dbm": r.threshold_dbm,
            }),
            Self::Export => json!({ "export": config.export }),
        }
    }

    /// The files the stage reads (folders stand for every file below them).
    pub fn inputs(self, config: &StudyConfig) -> Vec<PathBuf> {
        let dir = &config.study.dir;
        let dem = config.terrain.dem.clone();
        match self {
            Self::Ingest => {
                let i = &config.ingest;
                i.inputs
                    .iter()
                    .chain(&i.gateways)
                    .chain(&i.device_positions)
                    .cloned()
                    .collect()
            }
            Self::Train => vec![dir.join("links.parquet"), dem],
            Self::Coverage => existing(&[dir.join("sites.parquet"), dir.join("model.json"), dem]),
            Self::Optimize => {
                let mut inputs = vec![dir.join("links.parquet"), dir.join("model.json"), dem];
                inputs.extend(config.placement.candidates.iter().cloned());
                inputs
            }
            Self::Export => existing(&[
                dir.join("links.parquet"),
                dir.join("sites.parquet"),
                dir.join("coverage"),
                dir.join("suggested.csv"),
            ]),
        }
    }

    /// Run the stage, writing every output into `staging` (an empty folder
    /// on the study's file system).
    pub fn run(self, config: &StudyConfig, staging: &Path) -> Result<()> {
        match self {
            Self::Ingest => ingest(config, staging),
            Self::Train => train(config, staging),
            Self::Coverage => coverage(config, staging),
            Self::Optimize => optimize(config, staging),
            Self::Export => export(config, staging),
        }
    }

    /// Figures for the report, read from the stage's outputs in `dir`.
    pub fn metrics(self, config: &StudyConfig) -> Result<Value> {
        let dir = &config.study.dir;
        match self {
            Self::Ingest => {
                let summary = read_json(&dir.join("summary.json"))?;
                let mut m = serde_json::Map::new();
                for key in [
                    "rows_read",
                    "accepted",
                    "rejected",
                    "rejected_by_reason",
                    "links",
                    "links_flagged_invalid",
                    "sites",
                    "hexes",
                ] {
                    if let Some(v) = summary.get(key) {
                        m.insert(key.to_owned(), v.clone());
                    }
                }
                Ok(Value::Object(m))
            }
            Self::Train => {
                let model = read_json(&dir.join("model.json"))?;
                let cv = model
                    .pointer("/metadata/cv")
                    .and_then(Value::as_str)
                    .map(serde_json::from_str::<Value>)
                    .transpose()
                    .context("model.json: metadata.cv is not JSON")?;
                Ok(json!({
                    "training_rows": model.get("training_rows"),
                    "rows": model.pointer("/metadata/rows"),
                    "cv": cv,
                }))
            }
            Self::Coverage => {
                let files = crate::serve_cmd::coverage_files(&dir.join("coverage"))?;
                Ok(json!({
                    "sites": files.len(),
                    "radius_km": config.coverage.radius_km,
                    "res": config.coverage.res,
                }))
            }
            Self::Optimize => {
                let summary = read_json(&dir.join("suggested.summary.json"))?;
                let sites = csv_records(&dir.join("suggested.csv"))?;
                Ok(json!({
                    "objective": summary.get("objective"),
                    "bound": summary.get("bound"),
                    "n_demand_cells": summary.get("n_demand_cells"),
                    "n_candidates": summary.get("n_candidates"),
                    "expected_cells_covered_by_existing": summary.get("expected_cells_covered_by_existing"),
                    "sites_requested": summary.get("sites_requested"),
                    "sites": sites,
                }))
            }
            Self::Export => {
                let bytes = std::fs::metadata(dir.join("map.pmtiles"))
                    .map(|m| m.len())
                    .unwrap_or(0);
                Ok(json!({ "pmtiles_bytes": bytes }))
            }
        }
    }
}

fn existing(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().filter(|p| p.exists()).cloned().collect()
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
}

/// Every row of a CSV file as an object of its header's names (numbers as
/// numbers), for the report.
fn csv_records(path: &Path) -> Result<Vec<Value>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("reading {}", path.display()))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", path.display()))?;
        let row: serde_json::Map<String, Value> = header
            .iter()
            .zip(record.iter())
            .map(|(k, v)| {
                let value = v
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| Value::String(v.to_owned()), Value::Number);
                (k.to_owned(), value)
            })
            .collect();
        rows.push(Value::Object(row));
    }
    Ok(rows)
}

fn ingest(config: &StudyConfig, staging: &Path) -> Result<()> {
    let i = &config.ingest;
    let res: Vec<String> = i.resolutions.iter().map(u8::to_string).collect();
    crate::ingest_cmd::run(&IngestArgs {
        inputs: i.inputs.clone(),
        out: staging.to_owned(),
        format: i.format.clone(),
        gateways: i.gateways.clone(),
        res: res.join(","),
        export: i.export.clone(),
        device_positions: i.device_positions.clone(),
        device_lat_field: i.device_lat_field.clone(),
        device_lon_field: i.device_lon_field.clone(),
        single_thread: false,
        quiet: true,
    })?;
    // The summary lists the files it wrote; name them where they end up.
    let summary_path = staging.join("summary.json");
    let mut summary = read_json(&summary_path)?;
    if let Some(Value::Array(outputs)) = summary.get_mut("outputs") {
        for output in outputs.iter_mut() {
            if let Some(p) = output.as_str() {
                let name = Path::new(p).file_name().unwrap_or_default();
                *output = Value::String(config.study.dir.join(name).display().to_string());
            }
        }
    }
    std::fs::write(
        &summary_path,
        serde_json::to_string_pretty(&summary)? + "\n",
    )
    .with_context(|| format!("writing {}", summary_path.display()))?;
    Ok(())
}

fn radio_args(config: &StudyConfig) -> RadioArgs {
    let r = &config.radio;
    RadioArgs {
        dem: config.terrain.dem.clone(),
        device_height_m: Some(r.device_height_m),
        rx_height_m: Some(r.rx_height_m),
        freq_mhz: Some(r.freq_mhz),
        profile_step_m: Some(r.profile_step_m),
    }
}

fn train(config: &StudyConfig, staging: &Path) -> Result<()> {
    let m = &config.model;
    crate::train_cmd::run(&TrainArgs {
        input: LinkInputArgs {
            links: vec![config.study.dir.join("links.parquet")],
            format: Some("links-parquet".to_owned()),
            gateways: None,
            rejects: Some(staging.join("model.rejects.csv")),
        },
        radio: radio_args(config),
        out: staging.join("model.json"),
        cv_folds: m.cv_folds,
        block_res: m.block_res,
        cv_predictions: (m.cv_folds > 0).then(|| staging.join("cv_predictions.csv")),
        gbm: GbmArgs {
            trees: m.trees,
            depth: m.depth,
            learning_rate: m.learning_rate,
            seed: m.seed,
            no_physics_constraints: false,
        },
        quiet: true,
    })
}

/// One coverage file per existing site (the study's sites.parquet), named
/// by its id.
fn coverage(config: &StudyConfig, staging: &Path) -> Result<()> {
    let dir = &config.study.dir;
    let out = staging.join("coverage");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let sites_path = dir.join("sites.parquet");
    if !sites_path.exists() {
        tracing::warn!("no sites.parquet in the study: no existing site to predict");
        return Ok(());
    }
    let sites = hexcover_export::read_sites_geoparquet(&sites_path)?;
    let r = &config.radio;
    for site in &sites {
        let height = site.height_agl_m.unwrap_or(r.rx_height_m);
        crate::coverage_cmd::run(&CoverageArgs {
            dem: config.terrain.dem.clone(),
            site: format!("{},{},{}", site.lat, site.lon, height),
            gain_dbi: site.gain_dbi.unwrap_or(r.rx_gain_dbi),
            freq_mhz: r.freq_mhz,
            eirp_dbm: r.device_eirp_dbm,
            device_height_m: r.device_height_m,
            threshold_dbm: r.threshold_dbm,
            model: Some(dir.join("model.json")),
            radius_km: config.coverage.radius_km,
            res: i64::from(config.coverage.res),
            step_m: None,
            out: out.join(format!("{}.parquet", file_stem(&site.id))),
            quiet: true,
        })
        .with_context(|| format!("coverage of site {}", site.id))?;
    }
    Ok(())
}

/// A site id as a file name: anything but letters, digits, '.', '-' and
/// '_' becomes '_'.
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn optimize(config: &StudyConfig, staging: &Path) -> Result<()> {
    let p = &config.placement;
    let dir = &config.study.dir;
    crate::optimize_cmd::run(&OptimizeArgs {
        demand: None,
        candidates: p.candidates.clone(),
        existing: None,
        lock: p.lock.clone(),
        radius_m: None,
        sites: p.sites,
        budget: p.budget,
        min_spacing_m: p.min_spacing_m,
        max_distance_m: p.max_distance_m,
        k: p.k,
        study: Some(dir.clone()),
        dem: Some(config.terrain.dem.clone()),
        model: Some(dir.join("model.json")),
        demand_res: p.demand_res,
        candidate_res: p.candidate_res,
        weighting: p.weighting.clone(),
        coverage_radius_km: p.coverage_radius_km,
        threshold_dbm: config.radio.threshold_dbm,
        site_height_agl_m: p.site_height_agl_m,
        hex_density: p.hex_density,
        seed: p.seed,
        anneal_iterations: p.anneal_iterations,
        bound_iterations: p.bound_iterations,
        out: staging.join("suggested.csv"),
        quiet: true,
    })
}

fn export(config: &StudyConfig, staging: &Path) -> Result<()> {
    let e = &config.export;
    let out = staging.join("map.pmtiles");
    crate::pmtiles_cmd::run(
        &ExportArgs {
            study: config.study.dir.clone(),
            res: "9".to_owned(),
            to: vec!["geoparquet".to_owned()],
            out: None,
            pmtiles: Some(out.clone()),
            min_zoom: e.min_zoom,
            max_zoom: e.max_zoom,
            layers: Vec::new(),
            gap_threshold: 0.5,
            stale_after_days: 365.0,
            quiet: true,
        },
        &out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_ids_become_safe_file_names() {
        assert_eq!(file_stem("eui-0000024b080e0d75"), "eui-0000024b080e0d75");
        assert_eq!(file_stem("a/b c:d"), "a_b_c_d");
        assert_eq!(file_stem("../x"), ".._x");
    }
}
