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
}

const OPTIMIZE_EXAMPLES: &str = "\
Examples:
  # A classic MCLP instance (coordinates in projected metres): 25 sites, 3 km radius.
  hexcover optimize --demand demand.csv --candidates candidates.csv \\
      --radius-m 3000 --sites 25 --out sel.csv

  # Around existing sites, at least 345 m apart, two sites per demand point:
  hexcover optimize --demand demand.csv --candidates candidates.csv \\
      --existing existing.csv --radius-m 2000 --sites 5 --min-spacing-m 345 --k 2 --out sel.csv
";

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Demand points: CSV with columns id,x,y and optionally weight (default 1),
    /// x and y in projected metres.
    #[arg(long, value_name = "CSV")]
    pub demand: PathBuf,
    /// Candidate sites: CSV with columns id,x,y and optionally cost (default 1).
    #[arg(long, value_name = "CSV")]
    pub candidates: PathBuf,
    /// Existing sites, always kept: CSV with columns id,x,y.
    #[arg(long, value_name = "CSV")]
    pub existing: Option<PathBuf>,
    /// Candidate ids that must be chosen (already decided), comma-separated.
    #[arg(long, value_name = "ID,ID", value_delimiter = ',')]
    pub lock: Vec<String>,
    /// Coverage radius: a site covers a point within this distance, metres.
    #[arg(long, value_name = "M")]
    pub radius_m: f64,
    /// Number of new sites to choose.
    #[arg(long, value_name = "N")]
    pub sites: usize,
    /// Total cost of the new sites at most this (costs from the candidates' cost column).
    #[arg(long, value_name = "COST")]
    pub budget: Option<f64>,
    /// No two sites (new or existing) closer than this, metres.
    #[arg(long, value_name = "M")]
    pub min_spacing_m: Option<f64>,
    /// New sites within this distance of an existing site, metres.
    #[arg(long, value_name = "M")]
    pub max_distance_m: Option<f64>,
    /// Count a demand point only when at least K sites cover it (k-coverage).
    #[arg(long, value_name = "K")]
    pub k: Option<u32>,
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

Reads STUDY_DIR/links.parquet; writes STUDY_DIR/hexes_res<R>.<ext> (or --out DIR).";

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
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}
