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
