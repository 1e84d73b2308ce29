//! Ingest: every input format hexcover reads, validated row by row with
//! nothing lost, and H3 aggregation of the accepted links.
//!
//! Each input becomes links (a [`LinkTable`]) or sites; each rejected row a
//! [`Reject`] with its reason; the [`IngestSummary`] accounts for every row
//! (`accepted + rejected == rows_read`).
//!
//! ```no_run
//! use hexcover_ingest::{IngestOptions, NoProgress, aggregate, ingest};
//!
//! let options = IngestOptions {
//!     gateways: Some("../shared/data/ulm-ttn-2021/gateways.csv".into()),
//!     ..IngestOptions::default()
//! };
//! let inputs = ["../shared/data/ulm-ttn-2021/measurements.csv".into()];
//! let out = ingest(&inputs, &options, &NoProgress)?;
//! assert_eq!(out.summary.rows_read, out.summary.accepted + out.summary.rejected);
//! let hexes = aggregate(&out.links, &[h3o::Resolution::Nine])?;
//! println!("{} links in {} res-9 hexes", out.links.len(), hexes[0].len());
//! # Ok::<(), hexcover_ingest::Error>(())
//! ```
#![warn(missing_docs)]

mod aggregate;
mod csvread;
mod dedupe;
mod error;
mod format;
mod helium;
mod json;
mod links_csv;
mod links_parquet;
mod reject;
mod spill;
mod stream;
mod summary;
mod ulm;
mod validate;

use std::path::{Path, PathBuf};

use hexcover_core::{LinkTable, Site};

pub use aggregate::{aggregate, transmitter_cells};
pub use error::{Error, Result};
pub use format::{Format, detect};
pub use helium::{DevicePositions, read_device_positions};
pub use links_csv::{OPTIONAL_LINK_COLUMNS, REQUIRED_LINK_COLUMNS};
pub use reject::{Reject, RejectReason, Rejection, RejectsCsvWriter, write_rejects_csv};
pub use stream::{
    LinkSink, SinkError, StreamOptions, Streamed, available_memory_bytes, default_memory_bytes,
    ingest_streaming, link_table_formats, memory_budget,
};
pub use summary::{IngestSummary, InputSummary};
pub use validate::{check_link, check_position};

/// How to read the inputs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The format of every input; detected per input from its content when `None`.
    pub format: Option<Format>,
    /// The gateway list that the Ulm layout joins to (also read as sites).
    pub gateways: Option<PathBuf>,
    /// Where Helium Console devices are.
    pub devices: DevicePositions,
    /// Parse large CSV files on every core (the result is the same either way).
    pub parallel: bool,
    /// Reject repeated receptions (the same witness in one receipt, the same
    /// frame heard by the same receiver) across all inputs. Off only when
    /// re-reading hexcover's own `links.parquet`.
    pub find_duplicates: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            format: None,
            gateways: None,
            devices: DevicePositions::default(),
            parallel: true,
            find_duplicates: true,
        }
    }
}

/// Receives progress of long reads (a progress bar on a terminal).
pub trait Progress: Sync {
    /// An input of `total_bytes` starts.
    fn start(&self, _input: &str, _total_bytes: u64) {}
    /// `bytes` of the current input are done.
    fn advance_to(&self, _bytes: u64) {}
    /// The current input is done.
    fn finish(&self) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Everything an ingest produced.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The accepted links of all inputs, in input order.
    pub links: LinkTable,
    /// The accepted sites (gateway lists, registries).
    pub sites: Vec<Site>,
    /// Every rejected row, with its reason and original text.
    pub rejects: Vec<Reject>,
    /// The accounting.
    pub summary: IngestSummary,
}

/// Read, validate and merge `inputs`.
///
/// # Errors
/// A malformed or unreadable input, or a missing option (the Ulm layout
/// without `gateways`): one line naming the file and, where known, line and
/// field. Bad rows are never errors: they are rejects.
pub fn ingest(
    inputs: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Ingested> {
    if inputs.is_empty() {
        return Err(Error::Option("no input file given".to_owned()));
    }
    let mut links = LinkTable::default();
    let mut sites = Vec::new();
    let mut rejects = Vec::new();
    let mut summaries = Vec::new();
    let seen = dedupe::Seen::new(options.find_duplicates);
    let gateways = match &options.gateways {
        Some(path) => {
            let g = ulm::read_gateways(path, &display(path))?;
            sites.extend(g.sites.iter().cloned());
            rejects.extend(g.rejects.iter().cloned());
            Some(g)
        }
        None => None,
    };
    for path in inputs {
        let name = display(path);
        let format = match options.format {
            Some(f) => f,
            None => detect(path)?,
        };
        let total = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        progress.start(&name, total);
        let mut summary = InputSummary::new(&name, format);
        let advance = |bytes: u64| progress.advance_to(bytes);
        let parsed = match format {
            Format::Ulm => {
                let Some(gateways) = &gateways else {
                    return Err(Error::unusable(
                        path,
                        "the Ulm drive-test layout (lat,lon,rssi_dbm,gateway_id) needs the gateway positions: pass --gateways FILE",
                    ));
                };
                let file = csvread::CsvFile::open(path, &name)?;
                let parser = ulm::UlmParser::new(&file, path, gateways)?;
                Some(file.parse_all(&parser, options.parallel, &advance)?)
            }
            Format::LinksCsv => {
                let file = csvread::CsvFile::open(path, &name)?;
                let parser = links_csv::LinkCsvParser::new(&file, path, &seen)?;
                let parallel = options.parallel && parser.parallel();
                Some(file.parse_all(&parser, parallel, &advance)?)
            }
            Format::LinksParquet => Some(links_parquet::read_links_parquet(path, &name, &seen)?),
            Format::HeliumPoc => Some(helium::read_poc(path, &name, &seen)?),
            Format::HeliumConsole => {
                Some(helium::read_console(path, &name, &options.devices, &seen)?)
            }
            Format::UlmGateways => {
                let g = ulm::read_gateways(path, &name)?;
                summary = g.summary;
                sites.extend(g.sites);
                rejects.extend(g.rejects);
                None
            }
            Format::HeliumHotspots => {
                let read = helium::read_hotspots(path, &name)?;
                summary.rows_read = read.rows_read;
                summary.accepted = read.sites.len() as u64;
                summary.count_rejects(&read.rejects);
                sites.extend(read.sites);
                rejects.extend(read.rejects);
                None
            }
        };
        if let Some(parsed) = parsed {
            summary.rows_read = parsed.rows_read;
            summary.records_without_reception = parsed.records_skipped;
            summary.accepted = parsed.table.len() as u64;
            summary.count_rejects(&parsed.rejects);
            if links.is_empty() && links.inputs.is_empty() {
                links = parsed.table;
            } else {
                links.append(&parsed.table);
            }
            rejects.extend(parsed.rejects);
        }
        progress.finish();
        summaries.push(summary);
    }
    let flagged = links.valid.iter().filter(|v| !**v).count() as u64;
    let gateway_summary = gateways.map(|g| g.summary);
    let summary = IngestSummary::from_inputs(
        summaries,
        gateway_summary,
        links.len() as u64,
        flagged,
        sites.len() as u64,
    );
    Ok(Ingested {
        links,
        sites,
        rejects,
        summary,
    })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
