//! hexcover's generic link table as CSV: one row per link, columns named as
//! the fields of `Link` (see README "Input formats"); extra columns ignored.

use std::path::Path;

use hexcover_core::Link;

use crate::csvread::{CsvFile, ParsedRow, Row, RowError, RowParser};
use crate::dedupe::Seen;
use crate::validate::check_link;
use crate::{Error, RejectReason, Rejection, Result};

/// Columns every link table must have (values of `rssi_dbm` may be empty on
/// rows with `heard` false).
pub const REQUIRED_LINK_COLUMNS: [&str; 5] = ["tx_lat", "tx_lon", "rx_lat", "rx_lon", "rssi_dbm"];

/// Optional columns of the link table.
pub const OPTIONAL_LINK_COLUMNS: [&str; 15] = [
    "snr_db",
    "freq_mhz",
    "spreading_factor",
    "time_unix_ms",
    "tx_id",
    "rx_id",
    "frame_counter",
    "tx_eirp_dbm",
    "tx_height_agl_m",
    "rx_height_agl_m",
    "tx_gain_dbi",
    "rx_gain_dbi",
    "heard",
    "valid",
    "invalid_reason",
];

/// An error naming the required link-table columns that `has` lacks.
pub(crate) fn check_required_columns(
    path: &Path,
    line: u64,
    has: impl Fn(&str) -> bool,
) -> Result<()> {
    let missing: Vec<&str> = REQUIRED_LINK_COLUMNS
        .iter()
        .copied()
        .filter(|c| !has(c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::malformed(
        path,
        line,
        &missing.join(","),
        "required link-table column(s) missing",
    ))
}

/// Column positions of one link-table CSV header.
pub(crate) struct LinkCsvParser<'s> {
    required: [usize; 5],
    optional: [Option<usize>; 15],
    /// Frames seen so far, when the table has frame counters.
    seen: Option<&'s Seen>,
}

impl<'s> LinkCsvParser<'s> {
    pub fn new(file: &CsvFile, path: &Path, seen: &'s Seen) -> Result<Self> {
        check_required_columns(path, 1, |c| file.column(c).is_some())?;
        let required = REQUIRED_LINK_COLUMNS.map(|c| file.column(c).unwrap_or(0));
        let optional = OPTIONAL_LINK_COLUMNS.map(|c| file.column(c));
        let seen = (optional[6].is_some() && seen.enabled()).then_some(seen);
        Ok(Self {
            required,
            optional,
            seen,
        })
    }

    /// Parallel parsing is off when duplicates must be found in file order.
    pub fn parallel(&self) -> bool {
        self.seen.is_none()
    }
}

impl RowParser for LinkCsvParser<'_> {
    fn parse<'r>(&self, row: &Row<'r>) -> std::result::Result<ParsedRow<'r>, RowError> {
        let [tx_lat, tx_lon, rx_lat, rx_lon, rssi] = self.required;
        let o = &self.optional;
        let heard = row.boolean(o[12], true)?;
        let ranged = |v: Option<i64>, name: &str, max: i64| match v {
            Some(v) if !(0..=max).contains(&v) => Err(RowError::Reject(Rejection::new(
                RejectReason::ValueOutOfRange,
                format!("{name} = {v} is outside 0..={max}"),
            ))),
            _ => Ok(v),
        };
        let sf = ranged(row.integer(o[2])?, "spreading_factor", i64::from(u8::MAX))?;
        let fcnt = ranged(row.integer(o[6])?, "frame_counter", i64::from(u32::MAX))?;
        let link = Link {
            tx_lat: row.required_number(tx_lat)?,
            tx_lon: row.required_number(tx_lon)?,
            rx_lat: row.required_number(rx_lat)?,
            rx_lon: row.required_number(rx_lon)?,
            rssi_dbm: row.number(Some(rssi))?,
            snr_db: row.number(o[0])?,
            freq_mhz: row.number(o[1])?,
            spreading_factor: sf.and_then(|v| u8::try_from(v).ok()),
            time_unix_ms: row.integer(o[3])?,
            tx_id: None,
            rx_id: None,
            frame_counter: fcnt.and_then(|v| u32::try_from(v).ok()),
            tx_eirp_dbm: row.number(o[7])?,
            tx_height_agl_m: row.number(o[8])?,
            rx_height_agl_m: row.number(o[9])?,
            tx_gain_dbi: row.number(o[10])?,
            rx_gain_dbi: row.number(o[11])?,
            heard,
            valid: row.boolean(o[13], true)?,
            invalid_reason: None,
        };
        let tx_id = row.text(o[4])?;
        let rx_id = row.text(o[5])?;
        if let Some(seen) = self.seen {
            // Only a link that passes validation claims its frame.
            check_link(&link)?;
            seen.frame(&link, tx_id, rx_id)?;
        }
        Ok(ParsedRow {
            link,
            tx_id,
            rx_id,
            invalid_reason: row.text(o[14])?,
        })
    }
}
