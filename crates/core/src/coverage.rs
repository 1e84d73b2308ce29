use h3o::CellIndex;
use serde::{Deserialize, Serialize};

/// The predicted coverage of one H3 cell by one site (a receiver): what a
/// device at the cell's centre would be heard with.
///
/// Coverage means uplink: the device in the cell transmits, the site
/// receives. The RSSI is the site's received power; `p_covered` the
/// probability that it reaches the threshold of the run ([`CoverageRun`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HexCoverage {
    /// The H3 cell.
    pub cell: CellIndex,
    /// Great-circle (haversine) distance from the site to the cell's centre, m.
    pub distance_m: f64,
    /// Predicted RSSI at the site, dBm (the model's central value).
    pub rssi_pred_dbm: f64,
    /// Lower end of the 80 % interval (10th percentile), dBm.
    pub rssi_p10_dbm: f64,
    /// Upper end of the 80 % interval (90th percentile), dBm.
    pub rssi_p90_dbm: f64,
    /// Probability that the RSSI is at least the run's threshold, 0..=1.
    pub p_covered: f64,
}

/// What a per-site coverage run assumed: the site, the device, the threshold
/// and the model. Written into coverage files so a reader knows which radio
/// defaults produced the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageRun {
    /// Site latitude, WGS84 degrees.
    pub site_lat: f64,
    /// Site longitude, WGS84 degrees.
    pub site_lon: f64,
    /// Receiver antenna height above ground, m.
    pub site_height_agl_m: f64,
    /// Receiver antenna gain, dBi.
    pub site_gain_dbi: f64,
    /// Carrier frequency, MHz.
    pub freq_mhz: f64,
    /// Device EIRP, dBm.
    pub device_eirp_dbm: f64,
    /// Device antenna height above ground, m.
    pub device_height_agl_m: f64,
    /// A device counts as heard at RSSI ≥ this, dBm.
    pub threshold_dbm: f64,
    /// Cells whose centre lies within this distance of the site, m.
    pub radius_m: f64,
    /// H3 resolution of the cells.
    pub resolution: u8,
    /// The RSSI model that made the predictions.
    pub model: String,
}
