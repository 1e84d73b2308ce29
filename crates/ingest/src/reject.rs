use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::{Error, Result};

/// Why a row was rejected. The snake_case code is what `summary.json` and
/// `rejects.csv` carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// A required field is absent or empty.
    MissingField,
    /// A numeric field does not parse as a finite number.
    NonNumeric,
    /// The row has a different number of fields than the header.
    WrongFieldCount,
    /// A JSON entry that should be an object is not one.
    MalformedRecord,
    /// A number outside its field's valid range (spreading factor 5..=12,
    /// frame counter 0..=2^32-1).
    ValueOutOfRange,
    /// Transmitter latitude/longitude outside the valid range.
    TxPositionOutOfRange,
    /// Receiver latitude/longitude outside the valid range.
    RxPositionOutOfRange,
    /// A position of exactly 0/0: the GPS had no fix.
    NoGpsFix,
    /// RSSI outside [-150, 0] dBm.
    RssiOutOfRange,
    /// SNR outside [-40, 40] dB.
    SnrOutOfRange,
    /// The transmitter (device, beaconer) has no position.
    TxWithoutPosition,
    /// The receiver (gateway, witness) has no position.
    RxWithoutPosition,
    /// Transmitter and receiver more than 100 km apart (HIP-58).
    DistanceOver100Km,
    /// The same witness entry twice in one PoC receipt.
    DuplicateWitness,
    /// The same device frame counter heard by the same receiver twice.
    DuplicateFrame,
    /// A registry entry (site) without a position.
    SiteWithoutPosition,
}

impl RejectReason {
    /// The code used in files.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingField => "missing_field",
            Self::NonNumeric => "non_numeric",
            Self::WrongFieldCount => "wrong_field_count",
            Self::MalformedRecord => "malformed_record",
            Self::ValueOutOfRange => "value_out_of_range",
            Self::TxPositionOutOfRange => "tx_position_out_of_range",
            Self::RxPositionOutOfRange => "rx_position_out_of_range",
            Self::NoGpsFix => "no_gps_fix",
            Self::RssiOutOfRange => "rssi_out_of_range",
            Self::SnrOutOfRange => "snr_out_of_range",
            Self::TxWithoutPosition => "tx_without_position",
            Self::RxWithoutPosition => "rx_without_position",
            Self::DistanceOver100Km => "distance_over_100km",
            Self::DuplicateWitness => "duplicate_witness",
            Self::DuplicateFrame => "duplicate_frame",
            Self::SiteWithoutPosition => "site_without_position",
        }
    }
}

/// A row's rejection: the reason and a detail naming the field and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// What exactly, e.g. "rssi_dbm = 12 is outside [-150, 0] dBm".
    pub detail: String,
}

impl Rejection {
    pub(crate) fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// A rejected row as written to `rejects.csv`: where it was, why, and the
/// original row (a CSV line as read, or the JSON entry compacted to one line).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    /// The input file.
    pub input: String,
    /// Where in it: the 1-based line of a CSV file, the record number of a
    /// Parquet file, or a JSON path such as `[2].path[0].witnesses[3]`.
    pub row: String,
    /// The reason code.
    pub reason: RejectReason,
    /// The detail.
    pub detail: String,
    /// The original row.
    pub original: String,
}

/// Write rejects as CSV with the columns `input,row,reason,detail,original`
/// (a header is written even when there is no reject).
///
/// # Errors
/// [`Error::Io`] when the file cannot be written.
pub fn write_rejects_csv(path: &Path, rejects: &[Reject]) -> Result<()> {
    let mut out = RejectsCsvWriter::create(path)?;
    out.write(rejects)?;
    out.finish()
}

/// `rejects.csv` written a batch at a time (the streaming ingest hands on
/// the rejects of each chunk): the same columns as [`write_rejects_csv`].
pub struct RejectsCsvWriter {
    path: std::path::PathBuf,
    out: csv::Writer<std::io::BufWriter<std::fs::File>>,
}

impl RejectsCsvWriter {
    /// Create `path` and write the header.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be created.
    pub fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut this = Self {
            path: path.to_owned(),
            out: csv::Writer::from_writer(std::io::BufWriter::new(file)),
        };
        this.out
            .write_record(["input", "row", "reason", "detail", "original"])
            .map_err(|e| this.error(e))?;
        Ok(this)
    }

    fn error(&self, e: csv::Error) -> Error {
        Error::io(&self.path, std::io::Error::other(e))
    }

    /// Append `rejects`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn write(&mut self, rejects: &[Reject]) -> Result<()> {
        for r in rejects {
            self.out
                .write_record([
                    r.input.as_str(),
                    r.row.as_str(),
                    r.reason.code(),
                    r.detail.as_str(),
                    r.original.as_str(),
                ])
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Flush everything to the file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        self.out
            .into_inner()
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))?
            .flush()
            .map_err(|e| Error::io(&path, e))
    }
}
