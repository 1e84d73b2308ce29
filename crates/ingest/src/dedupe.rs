//! Duplicate detection across all inputs of one ingest (overlapping API pages
//! and dumps repeat receptions).

use std::collections::HashSet;
use std::sync::Mutex;

use hexcover_core::Link;

use crate::{RejectReason, Rejection};

/// The receptions seen so far; disabled when re-reading our own output.
pub(crate) struct Seen {
    keys: Option<Mutex<HashSet<String>>>,
}

impl Seen {
    pub fn new(enabled: bool) -> Self {
        Self {
            keys: enabled.then(|| Mutex::new(HashSet::new())),
        }
    }

    pub fn enabled(&self) -> bool {
        self.keys.is_some()
    }

    fn first_time(&self, key: String) -> bool {
        match &self.keys {
            None => true,
            Some(keys) => keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key),
        }
    }

    /// A frame (device, frame counter, receiver, and the uplink time where
    /// the source has one — counters restart when a device rejoins) may be
    /// heard once. Call after validation: only a valid link claims its frame.
    pub fn frame(
        &self,
        link: &Link,
        tx_id: Option<&str>,
        rx_id: Option<&str>,
    ) -> Result<(), Rejection> {
        let (Some(tx), Some(fcnt), Some(rx)) = (tx_id, link.frame_counter, rx_id) else {
            return Ok(());
        };
        let time = link
            .time_unix_ms
            .map_or_else(String::new, |t| t.to_string());
        if self.first_time(format!("frame\u{1f}{tx}\u{1f}{fcnt}\u{1f}{rx}\u{1f}{time}")) {
            Ok(())
        } else {
            Err(Rejection::new(
                RejectReason::DuplicateFrame,
                format!("frame {fcnt} of {tx} heard by {rx} already"),
            ))
        }
    }

    /// A witness may appear once per beacon (receipt and path step).
    pub fn witness(&self, receipt: &str, step: usize, gateway: &str) -> Result<(), Rejection> {
        if self.first_time(format!("witness\u{1f}{receipt}\u{1f}{step}\u{1f}{gateway}")) {
            Ok(())
        } else {
            Err(Rejection::new(
                RejectReason::DuplicateWitness,
                format!("witness {gateway} appears twice in receipt {receipt}"),
            ))
        }
    }
}
