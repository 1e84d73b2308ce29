//! The study config (`study.toml`): what `hexcover run` reads, checked in
//! full before any stage starts. Relative paths are relative to the config
//! file's folder, so a study file can be run from anywhere.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// A whole study. Unknown keys are errors (a typo must not silently fall
/// back to a default).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    pub study: StudySection,
    pub ingest: IngestSection,
    pub terrain: TerrainSection,
    #[serde(default)]
    pub radio: RadioSection,
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub coverage: CoverageSection,
    #[serde(default)]
    pub placement: PlacementSection,
    #[serde(default)]
    pub export: ExportSection,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StudySection {
    /// Shown in the report.
    #[serde(default)]
    pub name: Option<String>,
    /// The study directory every output goes to.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSection {
    /// Measurement and registry files (any format `hexcover ingest` reads).
    pub inputs: Vec<PathBuf>,
    /// The format of every input (detected from content when absent).
    #[serde(default)]
    pub format: Option<String>,
    /// The gateway list the Ulm layout joins to.
    #[serde(default)]
    pub gateways: Option<PathBuf>,
    /// Helium Console: CSV of fixed device positions.
    #[serde(default)]
    pub device_positions: Option<PathBuf>,
    /// Helium Console: dot paths of the device position in the event body.
    #[serde(default)]
    pub device_lat_field: Option<String>,
    #[serde(default)]
    pub device_lon_field: Option<String>,
    /// H3 resolutions of the measured hexes.
    #[serde(default = "default_resolutions")]
    pub resolutions: Vec<u8>,
    /// Extra hex formats beside GeoParquet: "geojson", "csv".
    #[serde(default)]
    pub export: Vec<String>,
}

fn default_resolutions() -> Vec<u8> {
    vec![9]
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TerrainSection {
    /// A DEM file, VRT or folder of tiles.
    pub dem: PathBuf,
}

/// Radio assumptions where the data say nothing (DESIGN.md defaults).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RadioSection {
    #[serde(default = "default_device_height_m")]
    pub device_height_m: f64,
    #[serde(default = "default_site_height_m")]
    pub rx_height_m: f64,
    #[serde(default = "default_freq_mhz")]
    pub freq_mhz: f64,
    #[serde(default = "default_profile_step_m")]
    pub profile_step_m: f64,
    #[serde(default = "default_eirp_dbm")]
    pub device_eirp_dbm: f64,
    #[serde(default = "default_gain_dbi")]
    pub rx_gain_dbi: f64,
    #[serde(default = "default_threshold_dbm")]
    pub threshold_dbm: f64,
}

fn default_device_height_m() -> f64 {
    1.5
}
fn default_site_height_m() -> f64 {
    10.0
}
fn default_freq_mhz() -> f64 {
    868.3
}
fn default_profile_step_m() -> f64 {
    30.0
}
fn default_eirp_dbm() -> f64 {
    16.0
}
fn default_gain_dbi() -> f64 {
    3.0
}
fn default_threshold_dbm() -> f64 {
    -130.0
}

impl Default for RadioSection {
    fn default() -> Self {
        Self {
            device_height_m: default_device_height_m(),
            rx_height_m: default_site_height_m(),
            freq_mhz: default_freq_mhz(),
            profile_step_m: default_profile_step_m(),
            device_eirp_dbm: default_eirp_dbm(),
            rx_gain_dbi: default_gain_dbi(),
            threshold_dbm: default_threshold_dbm(),
        }
    }
}

/// The learned model (`hexcover train`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Folds of the blocked cross-validation (0 skips it, and the CV
    /// predictions with it).
    #[serde(default = "default_cv_folds")]
    pub cv_folds: usize,
    #[serde(default = "default_block_res")]
    pub block_res: u8,
    #[serde(default = "default_trees")]
    pub trees: usize,
    #[serde(default = "default_depth")]
    pub depth: usize,
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    #[serde(default = "default_model_seed")]
    pub seed: u64,
}

fn default_cv_folds() -> usize {
    5
}
fn default_block_res() -> u8 {
    8
}
fn default_trees() -> usize {
    150
}
fn default_depth() -> usize {
    5
}
fn default_learning_rate() -> f64 {
    0.08
}
fn default_model_seed() -> u64 {
    7
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            cv_folds: default_cv_folds(),
            block_res: default_block_res(),
            trees: default_trees(),
            depth: default_depth(),
            learning_rate: default_learning_rate(),
            seed: default_model_seed(),
        }
    }
}

/// Predicted coverage of every existing site (`hexcover coverage`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageSection {
    #[serde(default = "default_radius_km")]
    pub radius_km: f64,
    #[serde(default = "default_coverage_res")]
    pub res: u8,
}

fn default_radius_km() -> f64 {
    10.0
}
fn default_coverage_res() -> u8 {
    10
}

impl Default for CoverageSection {
    fn default() -> Self {
        Self {
            radius_km: default_radius_km(),
            res: default_coverage_res(),
        }
    }
}

/// New sites (`hexcover optimize --study`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementSection {
    /// Number of new sites (0 skips placement).
    #[serde(default = "default_sites")]
    pub sites: usize,
    /// A candidate file (id,lat,lon[,height_agl_m][,cost]); default: the
    /// centres of the `candidate_res` cells of the study area.
    #[serde(default)]
    pub candidates: Option<PathBuf>,
    #[serde(default)]
    pub budget: Option<f64>,
    /// Default 345 m (Helium's 8 res-11 cells); 0 turns it off.
    #[serde(default)]
    pub min_spacing_m: Option<f64>,
    #[serde(default)]
    pub max_distance_m: Option<f64>,
    #[serde(default)]
    pub k: Option<u32>,
    #[serde(default)]
    pub lock: Vec<String>,
    #[serde(default)]
    pub hex_density: bool,
    #[serde(default = "default_demand_res")]
    pub demand_res: u8,
    #[serde(default = "default_candidate_res")]
    pub candidate_res: u8,
    #[serde(default = "default_weighting")]
    pub weighting: String,
    #[serde(default = "default_radius_km")]
    pub coverage_radius_km: f64,
    #[serde(default = "default_site_height_m")]
    pub site_height_agl_m: f64,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_anneal_iterations")]
    pub anneal_iterations: u64,
    #[serde(default = "default_bound_iterations")]
    pub bound_iterations: usize,
}

fn default_sites() -> usize {
    5
}
fn default_demand_res() -> u8 {
    9
}
fn default_candidate_res() -> u8 {
    8
}
fn default_weighting() -> String {
    "unserved".to_owned()
}
fn default_anneal_iterations() -> u64 {
    20_000
}
fn default_bound_iterations() -> usize {
    3_000
}

impl Default for PlacementSection {
    fn default() -> Self {
        Self {
            sites: default_sites(),
            candidates: None,
            budget: None,
            min_spacing_m: None,
            max_distance_m: None,
            k: None,
            lock: Vec::new(),
            hex_density: false,
            demand_res: default_demand_res(),
            candidate_res: default_candidate_res(),
            weighting: default_weighting(),
            coverage_radius_km: default_radius_km(),
            site_height_agl_m: default_site_height_m(),
            seed: 0,
            anneal_iterations: default_anneal_iterations(),
            bound_iterations: default_bound_iterations(),
        }
    }
}

/// The map archive.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSection {
    /// Write `map.pmtiles` (every layer `hexcover serve` draws).
    #[serde(default = "default_true")]
    pub pmtiles: bool,
    #[serde(default)]
    pub min_zoom: u8,
    #[serde(default = "default_max_zoom")]
    pub max_zoom: u8,
}

fn default_true() -> bool {
    true
}
fn default_max_zoom() -> u8 {
    14
}

impl Default for ExportSection {
    fn default() -> Self {
        Self {
            pmtiles: true,
            min_zoom: 0,
            max_zoom: default_max_zoom(),
        }
    }
}

impl StudyConfig {
    /// Read `path`, resolve its relative paths against the file's folder
    /// and check every value. `dir` replaces `[study] dir` when given.
    pub fn load(path: &Path, dir: Option<&Path>) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the study config {}", path.display()))?;
        let mut config: Self = toml::from_str(&text).map_err(|e| {
            // file:line:column: message (in `the line`), on one line.
            let (at, source_line) = e.span().map_or((String::new(), String::new()), |span| {
                let before = text.get(..span.start).unwrap_or(&text);
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                let source = text.lines().nth(line - 1).unwrap_or("").trim();
                (format!(":{line}:{column}"), format!(" (in `{source}`)"))
            });
            anyhow::anyhow!("{}{at}: {}{source_line}", path.display(), e.message())
        })?;
        // Absolute, normalized paths: the manifests then name the same
        // files whatever folder the run starts from.
        let parent = path.parent().unwrap_or(Path::new("."));
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let base = std::fs::canonicalize(parent)
            .with_context(|| format!("resolving the folder of {}", path.display()))?;
        config.resolve(&base);
        if let Some(dir) = dir {
            let cwd = std::env::current_dir().context("reading the current folder")?;
            config.study.dir = normalize(&cwd.join(dir));
        }
        config
            .check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }

    fn resolve(&mut self, base: &Path) {
        let at = |p: &mut PathBuf| *p = normalize(&base.join(&*p));
        at(&mut self.study.dir);
        self.ingest.inputs.iter_mut().for_each(at);
        self.ingest.gateways.iter_mut().for_each(at);
        self.ingest.device_positions.iter_mut().for_each(at);
        at(&mut self.terrain.dem);
        self.placement.candidates.iter_mut().for_each(at);
    }

    /// Every value in range and every input present, before any work.
    fn check(&self) -> Result<()> {
        if self.ingest.inputs.is_empty() {
            bail!("[ingest] inputs: give at least one file");
        }
        let files = self
            .ingest
            .inputs
            .iter()
            .map(|p| ("[ingest] inputs", p))
            .chain(
                self.ingest
                    .gateways
                    .iter()
                    .map(|p| ("[ingest] gateways", p)),
            )
            .chain(
                self.ingest
                    .device_positions
                    .iter()
                    .map(|p| ("[ingest] device_positions", p)),
            )
            .chain(
                self.placement
                    .candidates
                    .iter()
                    .map(|p| ("[placement] candidates", p)),
            )
            .chain(std::iter::once(("[terrain] dem", &self.terrain.dem)));
        for (key, path) in files {
            if !path.exists() {
                bail!("{key}: {} does not exist", path.display());
            }
        }
        if self.ingest.resolutions.is_empty() || self.ingest.resolutions.iter().any(|&r| r > 15) {
            bail!(
                "[ingest] resolutions = {:?}: give H3 resolutions 0 to 15",
                self.ingest.resolutions
            );
        }
        let r = &self.radio;
        in_range("[radio] device_height_m", r.device_height_m, 0.0, 1000.0)?;
        in_range("[radio] rx_height_m", r.rx_height_m, 0.0, 1000.0)?;
        in_range("[radio] freq_mhz", r.freq_mhz, 30.0, 6000.0)?;
        in_range("[radio] profile_step_m", r.profile_step_m, 1.0, 1000.0)?;
        in_range("[radio] device_eirp_dbm", r.device_eirp_dbm, -30.0, 60.0)?;
        in_range("[radio] rx_gain_dbi", r.rx_gain_dbi, -20.0, 40.0)?;
        in_range("[radio] threshold_dbm", r.threshold_dbm, -200.0, 0.0)?;
        let m = &self.model;
        if m.cv_folds == 1 || m.cv_folds > 50 {
            bail!(
                "[model] cv_folds = {}: expected 0 (skip) or 2 to 50",
                m.cv_folds
            );
        }
        if m.block_res > 15 {
            bail!("[model] block_res = {}: expected 0 to 15", m.block_res);
        }
        in_range("[coverage] radius_km", self.coverage.radius_km, 0.01, 200.0)?;
        if self.coverage.res > 15 {
            bail!("[coverage] res = {}: expected 0 to 15", self.coverage.res);
        }
        let p = &self.placement;
        for (key, res) in [
            ("[placement] demand_res", p.demand_res),
            ("[placement] candidate_res", p.candidate_res),
        ] {
            if res > 15 {
                bail!("{key} = {res}: expected 0 to 15");
            }
        }
        in_range(
            "[placement] coverage_radius_km",
            p.coverage_radius_km,
            0.01,
            200.0,
        )?;
        in_range(
            "[placement] site_height_agl_m",
            p.site_height_agl_m,
            0.0,
            1000.0,
        )?;
        if !matches!(p.weighting.as_str(), "unserved" | "uniform") {
            bail!(
                "[placement] weighting = {:?}: expected \"unserved\" or \"uniform\"",
                p.weighting
            );
        }
        let e = &self.export;
        if e.min_zoom > e.max_zoom || e.max_zoom > 20 {
            bail!(
                "[export] min_zoom = {}, max_zoom = {}: expected 0 ≤ min_zoom ≤ max_zoom ≤ 20",
                e.min_zoom,
                e.max_zoom
            );
        }
        Ok(())
    }
}

/// `path` without `.` and `..` components (lexically: no symlink is
/// followed, so a study dir that does not exist yet normalizes too).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn in_range(key: &str, value: f64, low: f64, high: f64) -> Result<()> {
    if !(value.is_finite() && (low..=high).contains(&value)) {
        bail!("{key} = {value}: expected {low} to {high}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("study.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::write(dir.join("links.csv"), "x").unwrap();
        std::fs::create_dir_all(dir.join("dem")).unwrap();
        path
    }

    const MINIMAL: &str =
        "[study]\ndir = \"out\"\n[ingest]\ninputs = [\"links.csv\"]\n[terrain]\ndem = \"dem\"\n";

    #[test]
    fn defaults_and_relative_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let config = StudyConfig::load(&write(tmp.path(), MINIMAL), None).unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        assert_eq!(config.study.dir, base.join("out"));
        assert_eq!(config.ingest.inputs, vec![base.join("links.csv")]);
        assert_eq!(config.ingest.resolutions, vec![9]);
        assert_eq!(config.model.cv_folds, 5);
        assert_eq!(config.placement.sites, 5);
        assert!((config.radio.threshold_dbm + 130.0).abs() < 1e-12);
        let moved =
            StudyConfig::load(&write(tmp.path(), MINIMAL), Some(Path::new("/x/./y/.."))).unwrap();
        assert_eq!(moved.study.dir, Path::new("/x"));
        assert_eq!(normalize(Path::new("/a/b/../../c/./d")), Path::new("/c/d"));
    }

    #[test]
    fn a_typo_is_an_error_naming_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let text = format!("{MINIMAL}[placement]\nsitez = 3\n");
        let err = StudyConfig::load(&write(tmp.path(), &text), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("study.toml") && msg.contains("sitez"), "{msg}");
    }

    #[test]
    fn values_out_of_range_and_missing_files_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let text = format!("{MINIMAL}[radio]\nthreshold_dbm = 5\n");
        let msg = StudyConfig::load(&write(tmp.path(), &text), None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("[radio] threshold_dbm = 5"), "{msg}");
        let text = MINIMAL.replace("links.csv", "missing.csv");
        let msg = StudyConfig::load(&write(tmp.path(), &text), None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("missing.csv does not exist"), "{msg}");
        let text = format!("{MINIMAL}[model]\ncv_folds = 1\n");
        let msg = StudyConfig::load(&write(tmp.path(), &text), None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("[model] cv_folds = 1"), "{msg}");
    }
}
