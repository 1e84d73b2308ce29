use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::{Error, Result};

/// The input layouts hexcover reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Format {
    /// The Ulm drive-test layout: `lat,lon,rssi_dbm,gateway_id`, joined to a
    /// gateway list given with `--gateways`.
    Ulm,
    /// A gateway list `gateway_id,lat,lon[,name]`, read as sites.
    UlmGateways,
    /// Helium `poc_receipts_v1` transactions (JSON list).
    HeliumPoc,
    /// Helium Console uplink events (JSON list).
    HeliumConsole,
    /// A Helium hotspot registry (`{"data": [...]}` or a JSON list), read as sites.
    HeliumHotspots,
    /// hexcover's generic link table as CSV.
    LinksCsv,
    /// hexcover's generic link table as Parquet.
    LinksParquet,
}

impl Format {
    /// Every format, for `--help` and error messages.
    pub const ALL: [Format; 7] = [
        Format::Ulm,
        Format::UlmGateways,
        Format::HeliumPoc,
        Format::HeliumConsole,
        Format::HeliumHotspots,
        Format::LinksCsv,
        Format::LinksParquet,
    ];

    /// The name used on the command line and in summaries.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Ulm => "ulm",
            Format::UlmGateways => "ulm-gateways",
            Format::HeliumPoc => "helium-poc",
            Format::HeliumConsole => "helium-console",
            Format::HeliumHotspots => "helium-hotspots",
            Format::LinksCsv => "links-csv",
            Format::LinksParquet => "links-parquet",
        }
    }

    /// Parse a format name.
    ///
    /// # Errors
    /// [`Error::Option`] naming the known formats.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                Error::Option(format!(
                    "unknown format `{name}`; known: {}",
                    known.join(", ")
                ))
            })
    }
}

/// Columns that identify the CSV layouts.
const ULM_COLUMNS: [&str; 4] = ["lat", "lon", "rssi_dbm", "gateway_id"];
const GATEWAY_COLUMNS: [&str; 3] = ["gateway_id", "lat", "lon"];
const LINK_COLUMNS: [&str; 4] = ["tx_lat", "tx_lon", "rx_lat", "rx_lon"];

/// Tell an input's format from its first bytes: Parquet magic, JSON keys, or
/// the CSV header's column names.
///
/// # Errors
/// Unreadable or empty files, and content that fits no known layout.
pub fn detect(path: &Path) -> Result<Format> {
    let mut head = Vec::with_capacity(64 << 10);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    if head.starts_with(b"PAR1") {
        return Ok(Format::LinksParquet);
    }
    let text = String::from_utf8_lossy(&head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.is_empty() {
        return Err(Error::unusable(path, "the file is empty"));
    }
    if text.starts_with('[') || text.starts_with('{') {
        return if text.contains("\"poc_receipts") || text.contains("\"challengee") {
            Ok(Format::HeliumPoc)
        } else if text.contains("\"hotspots\"") && text.contains("\"req\"") {
            Ok(Format::HeliumConsole)
        } else if text.contains("\"lng\"") || text.contains("\"location\"") {
            Ok(Format::HeliumHotspots)
        } else {
            Err(Error::unusable(
                path,
                "JSON of an unknown layout (not Helium PoC receipts, Console events or a hotspot registry); pass --format",
            ))
        };
    }
    let header = text.lines().next().unwrap_or_default();
    // Read the header as CSV, so quoted names ("tx_lat",...) are recognised.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(header.as_bytes());
    let record = reader
        .records()
        .next()
        .and_then(std::result::Result::ok)
        .unwrap_or_default();
    let columns: Vec<&str> = record.iter().map(str::trim).collect();
    if columns.len() == 1
        && let Some(message) = crate::csvread::delimiter_problem(header)
    {
        return Err(Error::malformed(path, 1, header.trim(), message));
    }
    let has = |names: &[&str]| names.iter().all(|n| columns.contains(n));
    if has(&LINK_COLUMNS) {
        Ok(Format::LinksCsv)
    } else if has(&ULM_COLUMNS) {
        Ok(Format::Ulm)
    } else if has(&GATEWAY_COLUMNS) {
        Ok(Format::UlmGateways)
    } else {
        Err(Error::malformed(
            path,
            1,
            header.chars().take(80).collect::<String>().as_str(),
            "header fits no known layout: a link table needs tx_lat,tx_lon,rx_lat,rx_lon,rssi_dbm; \
             the Ulm layout lat,lon,rssi_dbm,gateway_id; a gateway list gateway_id,lat,lon \
             (comma-separated); or pass --format",
        ))
    }
}
