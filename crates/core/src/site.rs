use serde::{Deserialize, Serialize};

/// A receiver location: a gateway or hotspot, existing or suggested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Stable id (gateway EUI, hotspot address).
    pub id: String,
    /// Human name, where the source has one.
    pub name: Option<String>,
    /// Latitude, WGS84 degrees.
    pub lat: f64,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// Antenna height above ground, where known.
    pub height_agl_m: Option<f64>,
    /// Antenna gain, where known.
    pub gain_dbi: Option<f64>,
    /// Owner (wallet, operator), where known.
    pub owner: Option<String>,
    /// The source format the site came from (`ulm-gateways`, `helium-hotspots`).
    pub source: String,
}
