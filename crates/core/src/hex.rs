use h3o::{CellIndex, Resolution};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Statistics of the links whose transmitter lies in one H3 cell.
///
/// Receiver and signal statistics are over the links that were heard and
/// that the source does not mark invalid (Helium witnesses with
/// `is_valid: false` are counted in `n_invalid` only); quantiles interpolate
/// linearly between order statistics (pandas' and numpy's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HexStats {
    /// The H3 cell.
    pub cell: CellIndex,
    /// Links (heard or not) with their transmitter in the cell.
    pub n_links: u64,
    /// Heard links.
    pub n_heard: u64,
    /// Links the source marks invalid (kept, but left out of the statistics).
    pub n_invalid: u64,
    /// Distinct transmitter ids; `None` where no link in the cell has one
    /// (the Ulm drive test publishes no tracker ids).
    pub n_transmitters: Option<u64>,
    /// Distinct receiver ids among the heard, valid links; `None` where none has one.
    pub n_receivers: Option<u64>,
    /// Mean of the RSSI values in dBm (not of milliwatts).
    pub rssi_mean_dbm: Option<f64>,
    /// Median RSSI.
    pub rssi_median_dbm: Option<f64>,
    /// 10th percentile of RSSI.
    pub rssi_p10_dbm: Option<f64>,
    /// 90th percentile of RSSI.
    pub rssi_p90_dbm: Option<f64>,
    /// Strongest RSSI.
    pub rssi_max_dbm: Option<f64>,
    /// Mean SNR where the source has SNR.
    pub snr_mean_db: Option<f64>,
    /// The receiver with the strongest RSSI (ties: the smallest id).
    pub best_rx_id: Option<String>,
    /// Earliest reception, ms since the Unix epoch, where times exist.
    pub first_seen_unix_ms: Option<i64>,
    /// Latest reception, ms since the Unix epoch, where times exist.
    pub last_seen_unix_ms: Option<i64>,
}

/// Parse a comma-separated list of H3 resolutions such as `8,9,12`, sorted
/// and without repeats.
///
/// # Errors
/// [`Error::Resolution`] when an item is not an integer in 0..=15 or the
/// list is empty.
pub fn parse_resolutions(text: &str) -> Result<Vec<Resolution>> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let value: u8 = item
            .parse()
            .map_err(|_| Error::Resolution(text.to_owned()))?;
        let res = Resolution::try_from(value).map_err(|_| Error::Resolution(text.to_owned()))?;
        out.push(res);
    }
    if out.is_empty() {
        return Err(Error::Resolution(text.to_owned()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_parse_sorted_and_unique() {
        let r = parse_resolutions("12, 8,9,8").unwrap();
        assert_eq!(
            r,
            vec![Resolution::Eight, Resolution::Nine, Resolution::Twelve]
        );
        assert!(parse_resolutions("16").is_err());
        assert!(parse_resolutions("nine").is_err());
        assert!(parse_resolutions("").is_err());
    }
}
