use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Format, Reject};

/// What happened to one input file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputSummary {
    /// The file.
    pub input: String,
    /// Its format, detected or given.
    pub format: Format,
    /// Rows (CSV lines after the header, JSON entries, Parquet rows) read.
    pub rows_read: u64,
    /// Rows that became links or sites.
    pub accepted: u64,
    /// Rows rejected; `accepted + rejected == rows_read` always.
    pub rejected: u64,
    /// Rejected rows per reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Records that hold no reception and so are no rows: Console events
    /// that are not uplink deliveries or that no hotspot heard, PoC beacons
    /// that nobody witnessed.
    pub records_without_reception: u64,
}

impl InputSummary {
    pub(crate) fn new(input: &str, format: Format) -> Self {
        Self {
            input: input.to_owned(),
            format,
            rows_read: 0,
            accepted: 0,
            rejected: 0,
            rejected_by_reason: BTreeMap::new(),
            records_without_reception: 0,
        }
    }

    pub(crate) fn count_rejects(&mut self, rejects: &[Reject]) {
        for r in rejects {
            self.rejected += 1;
            *self
                .rejected_by_reason
                .entry(r.reason.code().to_owned())
                .or_default() += 1;
        }
    }

    /// True when every row read is accounted for.
    #[must_use]
    pub fn balanced(&self) -> bool {
        self.accepted + self.rejected == self.rows_read
    }
}

/// The totals over all inputs of one ingest, as written to `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestSummary {
    /// Rows read over all inputs.
    pub rows_read: u64,
    /// Rows accepted (links plus sites).
    pub accepted: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Rejected rows per reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Accepted links.
    pub links: u64,
    /// Accepted links that the source marks invalid (kept, flagged, left out
    /// of model training).
    pub links_flagged_invalid: u64,
    /// Accepted sites.
    pub sites: u64,
    /// True when `accepted + rejected == rows_read` (always, or it is a bug).
    pub balanced: bool,
    /// Per input.
    pub inputs: Vec<InputSummary>,
    /// The `--gateways` list, accounted for separately: it is a lookup for
    /// the inputs, not an input (its rejects are in the rejects file too).
    pub gateways: Option<InputSummary>,
}

impl IngestSummary {
    pub(crate) fn from_inputs(
        inputs: Vec<InputSummary>,
        gateways: Option<InputSummary>,
        links: u64,
        links_flagged_invalid: u64,
        sites: u64,
    ) -> Self {
        let mut by_reason = BTreeMap::new();
        for input in &inputs {
            for (reason, n) in &input.rejected_by_reason {
                *by_reason.entry(reason.clone()).or_default() += n;
            }
        }
        let rows_read = inputs.iter().map(|i| i.rows_read).sum();
        let accepted = inputs.iter().map(|i| i.accepted).sum();
        let rejected = inputs.iter().map(|i| i.rejected).sum();
        Self {
            rows_read,
            accepted,
            rejected,
            rejected_by_reason: by_reason,
            links,
            links_flagged_invalid,
            sites,
            balanced: accepted + rejected == rows_read,
            inputs,
            gateways,
        }
    }
}
