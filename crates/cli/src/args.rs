//! Command-line flags, as clap parses them; each command turns them into
//! validated settings before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// hexcover maps LoRaWAN coverage from real measurements per H3 hex and
/// tells operators where the next hotspot should go.
#[derive(Debug, Parser)]
#[command(name = "hexcover", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read measurements (drive tests, Helium receipts, Console events, link
    /// tables) and registries, validate every row, aggregate per H3 hex and
    /// write a study directory.
    #[command(after_help = INGEST_EXAMPLES)]
    Ingest(IngestArgs),
    /// Aggregate a study's links.parquet again and write hexes as
    /// GeoParquet, GeoJSON and/or CSV.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Choose sites for new receivers: lazy greedy, swap local search and
    /// simulated annealing, with a proven upper bound and the gap.
    #[command(after_help = OPTIMIZE_EXAMPLES)]
    Optimize(OptimizeArgs),
    /// Train the learned RSSI model (boosted trees on terrain features,
    /// receiver offsets, a spatially calibrated 80 % interval) and write it
    /// as JSON.
    #[command(after_help = TRAIN_EXAMPLES)]
    Train(TrainArgs),
    /// Score every physics model and the learned model on spatially blocked
    /// cross-validation and leave-one-receiver-out, and print the table.
    #[command(after_help = EVALUATE_EXAMPLES)]
    Evaluate(EvaluateArgs),
    /// Predict the RSSI of every accepted input link with a trained model:
    /// mean, 80 % interval and P(RSSI ≥ sensitivity).
    #[command(after_help = PREDICT_EXAMPLES)]
    Predict(PredictArgs),
    /// Predict the coverage of one site (a receiver): every H3 cell within a
    /// radius with the RSSI a device there would be heard with, its 80 %
    /// interval and P(RSSI ≥ threshold), as GeoParquet.
    #[command(after_help = COVERAGE_EXAMPLES)]
    Coverage(CoverageArgs),
    /// Serve a study: vector tiles of measured and predicted hexes, hex
    /// evidence, what-if and placement over HTTP, and the web map.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// Run a whole study from its config file: ingest → train → coverage →
    /// optimize → export, skipping stages whose inputs and parameters did
    /// not change, ending with report.md and report.json.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
}

const RUN_EXAMPLES: &str = "\
Examples:
  # The Ulm study (what `make demo` runs); a second run skips every stage:
  hexcover run studies/ulm.toml
  # The same study into another folder, every stage again:
  hexcover run studies/ulm.toml --dir /tmp/ulm --force
The config reference is docs/study-config.md. Each stage leaves a manifest in
DIR/manifests/<stage>.json (parameters, input and output hashes, metrics).";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The study config (TOML); its relative paths are relative to its folder.
    #[arg(value_name = "STUDY_TOML")]
    pub config: PathBuf,
    /// Write the study here instead of its `[study] dir`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Run every stage, even those that are up to date.
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

const SERVE_EXAMPLES: &str = "\
Examples:
  # The demo study with its model and terrain, the page from web/dist:
  hexcover serve out/ulm --dem ../shared/data/srtm3-ulm

  # Another port, POST requests behind a token, no web page:
  HEXCOVER_TOKEN=secret hexcover serve out/ulm --dem dem/ --port 9000 --no-web";

const COVERAGE_EXAMPLES: &str = "\
Examples:
  # The Ulm Minster gateway, 10 m up, 20 km at res 10, physics baseline:
  hexcover coverage --dem ../shared/data/srtm3-ulm --site 48.3985,9.9918,10 \\
      --radius-km 20 --out minster.parquet

  # With a trained model and a more sensitive threshold (SF12):
  hexcover coverage --dem ../shared/data/srtm3-ulm --site 48.3985,9.9918,10 \\
      --model model.json --threshold-dbm -137 --radius-km 10 --out minster.parquet

Without --model the physics baseline predicts (free space + Bullington diffraction,
residual sigma 11 dB). Writes one row per cell: h3_cell, resolution, distance_m,
rssi_pred_dbm, rssi_p10_dbm, rssi_p90_dbm, p_covered, geometry (polygon, CRS84);
the run's assumptions are in the file metadata (key hexcover:coverage_run).";

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// DEM: a raster file or a folder of tiles (.hgt, GeoTIFF, VRT).
    #[arg(long, value_name = "DIR")]
    pub dem: PathBuf,
    /// The site: lat,lon[,height_agl_m] (WGS84 degrees; antenna height above
    /// ground in metres, default 10).
    #[arg(long, value_name = "LAT,LON,H", allow_hyphen_values = true)]
    pub site: String,
    /// Site antenna gain, dBi.
    #[arg(
        long,
        value_name = "DBI",
        default_value_t = 3.0,
        allow_hyphen_values = true
    )]
    pub gain_dbi: f64,
    /// Frequency, MHz.
    #[arg(long, value_name = "MHZ", default_value_t = 868.3)]
    pub freq_mhz: f64,
    /// Device EIRP, dBm.
    #[arg(
        long,
        value_name = "DBM",
        default_value_t = 16.0,
        allow_hyphen_values = true
    )]
    pub eirp_dbm: f64,
    /// Device antenna height above ground, m.
    #[arg(long, value_name = "M", default_value_t = 1.5)]
    pub device_height_m: f64,
    /// A device counts as heard at RSSI ≥ this, dBm.
    #[arg(long, value_name = "DBM", default_value_t = -130.0, allow_hyphen_values = true)]
    pub threshold_dbm: f64,
    /// A model written by `hexcover train` (default: the physics baseline).
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
    /// Cells whose centre lies within this distance of the site, km.
    #[arg(long, value_name = "KM", allow_hyphen_values = true)]
    pub radius_km: f64,
    /// H3 resolution of the cells (0..=15).
    #[arg(
        long,
        value_name = "R",
        default_value_t = 10,
        allow_hyphen_values = true
    )]
    pub res: i64,
    /// Step between terrain samples along the radials, m [default: the
    /// model's training step, or the DEM's pixel size without --model].
    #[arg(long, value_name = "M")]
    pub step_m: Option<f64>,
    /// Where to write the coverage (GeoParquet).
    #[arg(long, value_name = "PARQUET")]
    pub out: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

const TRAIN_EXAMPLES: &str = "\
Examples:
  # Ulm (devices on refuse trucks, about 2 m up) over SRTM:
  hexcover train --links ../shared/data/ulm-ttn-2021/measurements.csv \\
      --gateways ../shared/data/ulm-ttn-2021/gateways.csv \\
      --dem ../shared/data/srtm3-ulm --device-height-m 2 --out model.json

Rows ingest rejects go to <out>.rejects.csv (or --rejects). The model file records
its features, hyperparameters, training-data hash, radio assumptions and the
blocked-CV metrics (--cv-folds 0 skips them).";

const EVALUATE_EXAMPLES: &str = "\
Examples:
  hexcover evaluate --links ../shared/data/ulm-ttn-2021/measurements.csv \\
      --gateways ../shared/data/ulm-ttn-2021/gateways.csv \\
      --dem ../shared/data/srtm3-ulm --device-height-m 2 --folds 5 --block-res 8 --out table.md

--out FILE.md writes the Markdown tables, FILE.json the scores as JSON.";

const PREDICT_EXAMPLES: &str = "\
Examples:
  hexcover predict --model model.json --dem ../shared/data/srtm3-ulm \\
      --links ../shared/data/ulm-ttn-2021/measurements.csv \\
      --gateways ../shared/data/ulm-ttn-2021/gateways.csv --out predictions.csv

Writes one row per accepted link: input,input_row,receiver,rssi_dbm,rssi_pred_dbm,
rssi_p10_dbm,rssi_p90_dbm,p_covered,problem. Radio assumptions default to the
model's.";

/// `--links` and the ingest options that read them.
#[derive(Debug, Args)]
pub struct LinkInputArgs {
    /// Measured links: any input `hexcover ingest` reads (CSV, JSON, Parquet,
    /// a study's links.parquet); repeat for several files.
    #[arg(long, value_name = "FILE", required = true)]
    pub links: Vec<PathBuf>,
    /// Format of every input; detected from content if omitted.
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// Gateway list that the Ulm layout joins to.
    #[arg(long, value_name = "FILE")]
    pub gateways: Option<PathBuf>,
    /// Where to write the rows ingest rejected (default: <out>.rejects.csv beside
    /// --out; evaluate without --out writes evaluate.rejects.csv).
    #[arg(long, value_name = "CSV")]
    pub rejects: Option<PathBuf>,
}

/// The terrain and the radio assumptions where a link says nothing.
#[derive(Debug, Args)]
pub struct RadioArgs {
    /// DEM: a raster file or a folder of tiles (.hgt, GeoTIFF, VRT).
    #[arg(long, value_name = "DIR")]
    pub dem: PathBuf,
    /// Device antenna height where the link has none, m [default: 1.5].
    #[arg(long, value_name = "M", allow_negative_numbers = true)]
    pub device_height_m: Option<f64>,
    /// Receiver antenna height where the link has none, m [default: 10].
    #[arg(long, value_name = "M", allow_negative_numbers = true)]
    pub rx_height_m: Option<f64>,
    /// Frequency where the link has none, MHz [default: 868.3].
    #[arg(long, value_name = "MHZ")]
    pub freq_mhz: Option<f64>,
    /// Terrain profile step, m [default: 30].
    #[arg(long, value_name = "M")]
    pub profile_step_m: Option<f64>,
}

/// The boosted trees' hyperparameters (train and evaluate).
#[derive(Debug, Args)]
pub struct GbmArgs {
    /// Number of boosted trees. Training compares four candidates by inner
    /// spatial CV and keeps the best (the model file records which): three
    /// use --trees/--depth/--learning-rate as given, one is shallow and
    /// regularised (depth 3, rate 0.05, 200-row leaves).
    #[arg(long, value_name = "N", default_value_t = 150)]
    pub trees: usize,
    /// Depth of each tree (see --trees for the candidate that differs).
    #[arg(long, value_name = "D", default_value_t = 5)]
    pub depth: usize,
    /// Learning rate (see --trees for the candidate that differs).
    #[arg(long, value_name = "ETA", default_value_t = 0.08)]
    pub learning_rate: f64,
    /// Seed (equal seeds and data give equal models).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Let the model contradict physics: by default predicted RSSI never
    /// rises with distance, a diffraction or free-space loss or the
    /// obstructed share and never falls with a line-of-sight or Fresnel
    /// clearance, the other features held fixed (monotone trees, no positive
    /// distance or loss coefficient in the linear base). For comparison with
    /// models trained before the constraints.
    #[arg(long)]
    pub no_physics_constraints: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub input: LinkInputArgs,
    #[command(flatten)]
    pub radio: RadioArgs,
    /// Where to write the model (JSON).
    #[arg(long, value_name = "JSON")]
    pub out: PathBuf,
    /// Folds of the blocked cross-validation recorded in the model (0: skip).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub cv_folds: usize,
    /// H3 resolution of the spatial blocks (CV and interval calibration).
    #[arg(long, value_name = "R", default_value_t = 8)]
    pub block_res: u8,
    /// Also write the blocked-CV held-out predictions of every model, one
    /// row per training link (CSV; needs --cv-folds ≥ 2).
    #[arg(long, value_name = "CSV")]
    pub cv_predictions: Option<PathBuf>,
    #[command(flatten)]
    pub gbm: GbmArgs,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub input: LinkInputArgs,
    #[command(flatten)]
    pub radio: RadioArgs,
    /// Folds of the blocked cross-validation.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub folds: usize,
    /// H3 resolution of the spatial blocks (7 or 8 recommended).
    #[arg(long, value_name = "R", default_value_t = 8)]
    pub block_res: u8,
    /// Skip leave-one-receiver-out.
    #[arg(long)]
    pub no_loro: bool,
    /// Also train the learned model with these seeds (comma-separated) and
    /// add a row per seed: how much its score depends on the trees' row
    /// subsampling, which decides a lot where one place holds most rows.
    #[arg(long, value_name = "SEEDS", value_delimiter = ',')]
    pub extra_seeds: Vec<u64>,
    #[command(flatten)]
    pub gbm: GbmArgs,
    /// Write the results: FILE.md (Markdown) or FILE.json.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print nothing but errors (and the table when there is no --out).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A model written by `hexcover train`.
    #[arg(long, value_name = "JSON")]
    pub model: PathBuf,
    #[command(flatten)]
    pub input: LinkInputArgs,
    #[command(flatten)]
    pub radio: RadioArgs,
    /// Receiver sensitivity for p_covered, dBm (DESIGN default -130).
    #[arg(long, value_name = "DBM", default_value_t = -130.0, allow_negative_numbers = true)]
    pub sensitivity_dbm: f64,
    /// Where to write the predictions (CSV).
    #[arg(long, value_name = "CSV")]
    pub out: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

const OPTIMIZE_EXAMPLES: &str = "\
Examples:
  # A classic MCLP instance (coordinates in projected metres): 25 sites, 3 km radius.
  hexcover optimize --demand demand.csv --candidates candidates.csv \\
      --radius-m 3000 --sites 25 --out sel.csv

  # Around existing sites, at least 345 m apart, two sites per demand point:
  hexcover optimize --demand demand.csv --candidates candidates.csv \\
      --existing existing.csv --radius-m 2000 --sites 5 --min-spacing-m 345 --k 2 --out sel.csv

  # Geographic: 5 new sites for an ingested study, coverage from a trained model:
  hexcover optimize --study out/ulm --dem ../shared/data/srtm3-ulm \\
      --model out/ulm/model.json --sites 5 --out out/ulm/suggested.csv
";

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Planar mode: demand points, CSV with columns id,x,y and optionally
    /// weight (default 1), x and y in projected metres.
    #[arg(long, value_name = "CSV")]
    pub demand: Option<PathBuf>,
    /// Candidate sites. Planar: CSV id,x,y[,cost] (cost default 1).
    /// Geographic: CSV id,lat,lon[,height_agl_m][,cost]; without it, the
    /// centres of the --candidate-res cells in the study area.
    #[arg(long, value_name = "CSV")]
    pub candidates: Option<PathBuf>,
    /// Planar mode: existing sites, always kept: CSV with columns id,x,y.
    #[arg(long, value_name = "CSV")]
    pub existing: Option<PathBuf>,
    /// Candidate ids already decided, comma-separated: treated as built (like
    /// existing sites), so they count toward coverage and spacing but not
    /// toward --sites or --budget.
    #[arg(long, value_name = "ID,ID", value_delimiter = ',')]
    pub lock: Vec<String>,
    /// Planar mode: a site covers a point within this distance, metres.
    #[arg(long, value_name = "M")]
    pub radius_m: Option<f64>,
    /// Number of new sites to choose.
    #[arg(long, value_name = "N")]
    pub sites: usize,
    /// Total cost of the new sites at most this (costs from the candidates' cost column).
    #[arg(long, value_name = "COST")]
    pub budget: Option<f64>,
    /// No two sites (new or existing) closer than this, metres. Geographic
    /// default: 345 (Helium's 8 res-11 cells); 0 turns it off.
    #[arg(long, value_name = "M")]
    pub min_spacing_m: Option<f64>,
    /// New sites within this distance of an existing site, metres.
    #[arg(long, value_name = "M")]
    pub max_distance_m: Option<f64>,
    /// Count a demand point only when at least K sites cover it (k-coverage).
    #[arg(long, value_name = "K")]
    pub k: Option<u32>,
    /// Geographic mode: a study directory written by `hexcover ingest`; its
    /// device positions outline the demand area, its receivers are the
    /// existing sites.
    #[arg(long, value_name = "DIR")]
    pub study: Option<PathBuf>,
    /// Geographic mode: the elevation model (file, VRT or folder of tiles).
    #[arg(long, value_name = "PATH")]
    pub dem: Option<PathBuf>,
    /// Geographic mode: the RSSI model from `hexcover train`; without it the
    /// physics baseline (free space + Bullington diffraction).
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
    /// Geographic mode: H3 resolution of the demand cells.
    #[arg(long, value_name = "R", default_value_t = 9)]
    pub demand_res: u8,
    /// Geographic mode: H3 resolution whose cell centres are the candidates
    /// (when no --candidates file is given).
    #[arg(long, value_name = "R", default_value_t = 8)]
    pub candidate_res: u8,
    /// Geographic mode: demand weight per cell: `unserved` (1 − P(an existing
    /// site hears a device there)) or `uniform`.
    #[arg(long, value_name = "W", default_value = "unserved")]
    pub weighting: String,
    /// Geographic mode: how far each site's coverage is computed, km.
    #[arg(long, value_name = "KM", default_value_t = 10.0)]
    pub coverage_radius_km: f64,
    /// Geographic mode: a device counts as heard at RSSI ≥ this, dBm.
    #[arg(long, value_name = "DBM", default_value_t = -130.0, allow_negative_numbers = true)]
    pub threshold_dbm: f64,
    /// Geographic mode: antenna height of candidates (and of existing sites
    /// whose height the data do not give), m above ground.
    #[arg(long, value_name = "M", default_value_t = 10.0)]
    pub site_height_agl_m: f64,
    /// Geographic mode: keep every new site within the Helium hex-density
    /// limits (HIP-17 / HIP-104 defaults).
    #[arg(long)]
    pub hex_density: bool,
    /// Seed of the annealing moves; equal seeds give equal answers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Simulated-annealing steps (0 to skip).
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub anneal_iterations: u64,
    /// Subgradient iterations of the Lagrangian bound (0: the online bound only).
    #[arg(long, value_name = "N", default_value_t = 3_000)]
    pub bound_iterations: usize,
    /// Where to write the chosen sites (CSV); the summary goes beside it as
    /// <name>.summary.json.
    #[arg(long, value_name = "CSV")]
    pub out: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

const INGEST_EXAMPLES: &str = "\
Examples:
  # The Ulm drive test, joined to its gateway list, hexes at res 8, 9 and 12:
  hexcover ingest ../shared/data/ulm-ttn-2021/measurements.csv \\
      --gateways ../shared/data/ulm-ttn-2021/gateways.csv --out out/ulm --res 8,9,12

  # Helium PoC receipts and a hotspot registry, format detected from content:
  hexcover ingest challenges.json hotspots.json --out out/helium

Formats (detected from content, or --format): ulm, ulm-gateways, helium-poc,
helium-console, helium-hotspots, links-csv, links-parquet.
Writes DIR/summary.json, DIR/rejects.csv, DIR/links.parquet, DIR/sites.parquet
(when there are sites) and DIR/hexes_res<R>.parquet per resolution.";

const EXPORT_EXAMPLES: &str = "\
Examples:
  # GeoJSON and CSV of res-9 and res-10 hexes from an ingested study:
  hexcover export out/ulm --res 9,10 --to geojson,csv

  # The whole map (zoom 0-16, all five layers) for martin or a static host:
  hexcover export out/ulm --pmtiles out/ulm/map.pmtiles

Reads STUDY_DIR/links.parquet; writes STUDY_DIR/hexes_res<R>.<ext> (or --out DIR).
With --pmtiles it reads the study as `hexcover serve` does (links, sites.parquet,
coverage/*.parquet, suggested.csv) and writes only the archive.";

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Input files: CSV, JSON or Parquet, each in any supported format.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The study directory to write (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Format of every input; detected per input from its content if omitted.
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// Gateway list (gateway_id,lat,lon[,name]) that the Ulm layout joins to;
    /// its gateways are written as sites too.
    #[arg(long, value_name = "FILE")]
    pub gateways: Option<PathBuf>,
    /// H3 resolutions to aggregate at, comma-separated (0..=15).
    #[arg(long, value_name = "R,R", default_value = "9")]
    pub res: String,
    /// Also export the hexes in these formats: geojson, csv (GeoParquet is
    /// always written).
    #[arg(long = "export", value_name = "FMT,FMT", value_delimiter = ',')]
    pub export: Vec<String>,
    /// Helium Console: CSV of fixed device positions (device_id,lat,lon).
    #[arg(long, value_name = "FILE")]
    pub device_positions: Option<PathBuf>,
    /// Helium Console: dot path of the device latitude in the event body,
    /// e.g. decoded.payload.latitude.
    #[arg(long, value_name = "PATH", requires = "device_lon_field")]
    pub device_lat_field: Option<String>,
    /// Helium Console: dot path of the device longitude in the event body.
    #[arg(long, value_name = "PATH", requires = "device_lat_field")]
    pub device_lon_field: Option<String>,
    /// Parse on one core only (the output is the same).
    #[arg(long)]
    pub single_thread: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A study directory written by `hexcover ingest`.
    #[arg(value_name = "STUDY_DIR")]
    pub study: PathBuf,
    /// H3 resolutions, comma-separated.
    #[arg(long, value_name = "R,R", default_value = "9")]
    pub res: String,
    /// Formats to write: geoparquet, geojson, csv.
    #[arg(
        long,
        value_name = "FMT,FMT",
        value_delimiter = ',',
        default_value = "geoparquet"
    )]
    pub to: Vec<String>,
    /// Where to write (default: the study directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the map as a PMTiles v3 archive instead of hex files: every
    /// tile over the data, each one vector tile (gzip) with the layers
    /// measured, predicted, gaps, sites and suggestions exactly as
    /// `hexcover serve` gives them.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["res", "to", "out"])]
    pub pmtiles: Option<PathBuf>,
    /// First zoom of the archive.
    #[arg(long, default_value_t = 0, requires = "pmtiles")]
    pub min_zoom: u8,
    /// Last zoom of the archive (at most 20; from 16 on the hexes are res 12).
    #[arg(long, default_value_t = 16, requires = "pmtiles")]
    pub max_zoom: u8,
    /// Only these layers in the archive (default: all five).
    #[arg(
        long,
        value_name = "LAYER,LAYER",
        value_delimiter = ',',
        requires = "pmtiles"
    )]
    pub layers: Vec<String>,
    /// P(covered) below which a demand hex is a gap (as `hexcover serve`).
    #[arg(long, default_value_t = 0.5, requires = "pmtiles")]
    pub gap_threshold: f64,
    /// Measured hexes last heard longer ago than this are stale, days (as
    /// `hexcover serve`; "now" is the time of the export).
    #[arg(long, default_value_t = 365.0, requires = "pmtiles")]
    pub stale_after_days: f64,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A study directory (links.parquet, sites.parquet, coverage/*.parquet,
    /// suggested.csv, model.json).
    #[arg(value_name = "STUDY_DIR")]
    pub study: PathBuf,
    /// Elevation model for what-if and placement (a tile, VRT or folder).
    /// Without it both answer 409.
    #[arg(long, value_name = "PATH")]
    pub dem: Option<PathBuf>,
    /// The learned model (default: STUDY_DIR/model.json when present, else
    /// the physics baseline).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The built web page (default: web/dist when it exists).
    #[arg(long, value_name = "DIR")]
    pub web: Option<PathBuf>,
    /// Serve the API only.
    #[arg(long, conflicts_with = "web")]
    pub no_web: bool,
    /// Bearer token POST requests must carry.
    #[arg(long, env = "HEXCOVER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// P(covered) below which a demand hex is a gap.
    #[arg(long, default_value_t = 0.5)]
    pub gap_threshold: f64,
    /// Measured hexes last heard longer ago than this are stale (days).
    #[arg(long, default_value_t = 365.0)]
    pub stale_after_days: f64,
    /// What-if coverage radius, km.
    #[arg(long, default_value_t = 20.0)]
    pub whatif_radius_km: f64,
    /// An online basemap style URL (the page draws its own layers without one).
    #[arg(long, value_name = "URL")]
    pub basemap_style: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}
