use h3o::LatLng;
use serde::{Deserialize, Serialize};

/// RSSI values outside this range (dBm) are not physical for LoRa receivers.
pub const RSSI_RANGE_DBM: (f64, f64) = (-150.0, 0.0);
/// SNR values outside this range (dB) are not physical for LoRa receivers.
pub const SNR_RANGE_DB: (f64, f64) = (-40.0, 40.0);
/// Longest link accepted (HIP-58: witnesses beyond 100 km are invalid).
pub const MAX_LINK_DISTANCE_M: f64 = 100_000.0;

/// One reception of a transmitter (device, tracker, beaconing hotspot) by a
/// receiver (gateway, hotspot, witness), normalised from any source.
///
/// Everything a source may lack is optional, so later stages need no schema
/// change when a richer source arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// Transmitter latitude, WGS84 degrees.
    pub tx_lat: f64,
    /// Transmitter longitude, WGS84 degrees.
    pub tx_lon: f64,
    /// Receiver latitude, WGS84 degrees.
    pub rx_lat: f64,
    /// Receiver longitude, WGS84 degrees.
    pub rx_lon: f64,
    /// Received signal strength at the receiver; `None` only when not heard.
    pub rssi_dbm: Option<f64>,
    /// Signal-to-noise ratio at the receiver.
    pub snr_db: Option<f64>,
    /// Carrier frequency.
    pub freq_mhz: Option<f64>,
    /// LoRa spreading factor (7..=12).
    pub spreading_factor: Option<u8>,
    /// Reception time, milliseconds since the Unix epoch (UTC).
    pub time_unix_ms: Option<i64>,
    /// Transmitter id (device EUI, beaconing hotspot address).
    pub tx_id: Option<String>,
    /// Receiver id (gateway EUI, hotspot address).
    pub rx_id: Option<String>,
    /// Uplink frame counter, where the source has one.
    pub frame_counter: Option<u32>,
    /// Transmit EIRP.
    pub tx_eirp_dbm: Option<f64>,
    /// Transmitter antenna height above ground.
    pub tx_height_agl_m: Option<f64>,
    /// Receiver antenna height above ground.
    pub rx_height_agl_m: Option<f64>,
    /// Transmitter antenna gain.
    pub tx_gain_dbi: Option<f64>,
    /// Receiver antenna gain.
    pub rx_gain_dbi: Option<f64>,
    /// True for every reception; false rows come from sources that record
    /// non-receptions.
    pub heard: bool,
    /// False where the source itself marks the reception invalid (Helium
    /// `is_valid: false`); such links are kept but left out of model training.
    pub valid: bool,
    /// The source's reason when `valid` is false.
    pub invalid_reason: Option<String>,
}

impl Link {
    /// A heard link with only positions and RSSI known.
    #[must_use]
    pub fn heard(tx_lat: f64, tx_lon: f64, rx_lat: f64, rx_lon: f64, rssi_dbm: f64) -> Self {
        Self {
            tx_lat,
            tx_lon,
            rx_lat,
            rx_lon,
            rssi_dbm: Some(rssi_dbm),
            snr_db: None,
            freq_mhz: None,
            spreading_factor: None,
            time_unix_ms: None,
            tx_id: None,
            rx_id: None,
            frame_counter: None,
            tx_eirp_dbm: None,
            tx_height_agl_m: None,
            rx_height_agl_m: None,
            tx_gain_dbi: None,
            rx_gain_dbi: None,
            heard: true,
            valid: true,
            invalid_reason: None,
        }
    }

    /// Great-circle distance from transmitter to receiver (h3o's haversine).
    #[must_use]
    pub fn distance_m(&self) -> f64 {
        match (
            LatLng::new(self.tx_lat, self.tx_lon),
            LatLng::new(self.rx_lat, self.rx_lon),
        ) {
            (Ok(tx), Ok(rx)) => tx.distance_m(rx),
            _ => f64::NAN,
        }
    }
}

/// Why a latitude/longitude pair cannot be a real position, if it cannot:
/// non-finite, out of range, or exactly 0/0 (a GPS without a fix reports that).
#[must_use]
pub fn lat_lon_problem(lat: f64, lon: f64) -> Option<&'static str> {
    if !lat.is_finite() || !lon.is_finite() {
        Some("not a finite number")
    } else if !(-90.0..=90.0).contains(&lat) {
        Some("latitude outside [-90, 90]")
    } else if !(-180.0..=180.0).contains(&lon) {
        Some("longitude outside [-180, 180]")
    } else if lat == 0.0 && lon == 0.0 {
        Some("exactly 0/0 (no GPS fix)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_of_a_known_pair() {
        // Ulm Minster to the Böfingen high-rise gateway: about 4.8 km.
        let link = Link::heard(48.3985, 9.9925, 48.430948, 10.018305, -100.0);
        let d = link.distance_m();
        assert!((4_000.0..4_300.0).contains(&d), "{d}");
    }

    #[test]
    fn positions_without_a_fix_are_problems() {
        assert!(lat_lon_problem(0.0, 0.0).is_some());
        assert!(lat_lon_problem(91.0, 10.0).is_some());
        assert!(lat_lon_problem(48.0, -181.0).is_some());
        assert!(lat_lon_problem(f64::NAN, 1.0).is_some());
        assert!(lat_lon_problem(0.0, 10.0).is_none());
        assert!(lat_lon_problem(48.4, 10.0).is_none());
    }
}
