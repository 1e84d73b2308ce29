//! The map's layers: names, what they colour by, value ranges and legends,
//! and the hex states. The page builds its styles from this.

use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;
use crate::study::{RESOLUTION_BY_ZOOM, SERVED_RESOLUTIONS};

/// The layers tiles are served for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Measured hex statistics.
    Measured,
    /// Predicted coverage of the existing network.
    Predicted,
    /// Demand hexes whose P(covered) is below the gap threshold.
    Gaps,
    /// Existing sites.
    Sites,
    /// Suggested sites.
    Suggestions,
}

impl Layer {
    /// Every layer, in drawing order.
    pub const ALL: [Self; 5] = [
        Self::Measured,
        Self::Predicted,
        Self::Gaps,
        Self::Sites,
        Self::Suggestions,
    ];

    /// The layer's name in URLs and tiles.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Measured => "measured",
            Self::Predicted => "predicted",
            Self::Gaps => "gaps",
            Self::Sites => "sites",
            Self::Suggestions => "suggestions",
        }
    }

    /// The layer named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// One legend entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegendEntry {
    /// The value at this stop.
    pub value: f64,
    /// CSS colour.
    pub color: String,
    /// Text for the legend.
    pub label: String,
}

/// One layer's description.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LayerInfo {
    /// Name (`measured`, `predicted`, `gaps`, `sites`, `suggestions`).
    pub name: String,
    /// `hex` or `point`.
    pub geometry: String,
    /// The property the layer is coloured by, if any.
    pub property: Option<String>,
    /// Its unit.
    pub unit: Option<String>,
    /// Smallest and largest value in the study, where there is a value.
    pub range: Option<[f64; 2]>,
    /// Colour stops.
    pub legend: Vec<LegendEntry>,
    /// Features in the study (at the finest resolution for hex layers).
    pub count: usize,
    /// The tile URL template.
    pub tiles: String,
    /// Finest hex resolution the layer has (hex layers).
    pub max_res: Option<u8>,
    /// What the layer shows.
    pub description: String,
}

/// A hex state and its colour.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StateInfo {
    /// `measured`, `measured_no_signal`, `stale`, `predicted_only`, `never_measured`.
    pub state: String,
    /// CSS colour.
    pub color: String,
    /// What it means.
    pub description: String,
    /// Whether this study's data can show the state at all.
    pub shown: bool,
}

/// A zoom range and the hex resolution drawn there.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ZoomResolution {
    /// First zoom.
    pub min_zoom: u8,
    /// Last zoom.
    pub max_zoom: u8,
    /// H3 resolution.
    pub res: u8,
}

/// A downloadable file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Download {
    /// File name.
    pub name: String,
    /// Where to get it.
    pub url: String,
}

/// `GET /api/v1/layers`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LayersResponse {
    /// The study's name.
    pub study: String,
    /// West, south, east, north of the data.
    pub bounds: [f64; 4],
    /// The middle of the bounds, (lon, lat).
    pub center: [f64; 2],
    /// Which hex resolution each zoom draws.
    pub resolution_by_zoom: Vec<ZoomResolution>,
    /// The layers.
    pub layers: Vec<LayerInfo>,
    /// Hex states and their colours.
    pub states: Vec<StateInfo>,
    /// Files to download.
    pub downloads: Vec<Download>,
    /// P(covered) below which a demand hex is a gap.
    pub gap_threshold: f64,
    /// An online basemap style, only when one is configured.
    pub basemap: Option<String>,
    /// The model new sites are predicted with.
    pub model: String,
}

/// Viridis-like stops, dark (weak) to bright (strong).
const RAMP: [&str; 6] = [
    "#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725",
];

fn ramp(lo: f64, hi: f64, unit: &str, digits: usize) -> Vec<LegendEntry> {
    let n = RAMP.len() - 1;
    RAMP.iter()
        .enumerate()
        .map(|(i, color)| {
            #[allow(clippy::cast_precision_loss)]
            let value = lo + (hi - lo) * i as f64 / n as f64;
            LegendEntry {
                value,
                color: (*color).to_owned(),
                label: format!("{value:.digits$} {unit}").trim().to_owned(),
            }
        })
        .collect()
}

fn range(values: impl Iterator<Item = f64>) -> Option<[f64; 2]> {
    values.fold(None, |acc, v| match acc {
        None => Some([v, v]),
        Some([lo, hi]) => Some([lo.min(v), hi.max(v)]),
    })
}

/// The layers answer for `state`.
#[must_use]
pub fn layers(state: &AppState) -> LayersResponse {
    let study = &state.study;
    let finest_measured = study.measured.values().next_back();
    let measured_range = range(
        study
            .measured
            .values()
            .flat_map(|layer| layer.items.iter().filter_map(|(_, h)| h.rssi_median_dbm)),
    );
    let tiles = |name: &str| format!("/api/v1/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt");
    let gaps = study
        .demand
        .get(&u8::from(crate::study::DEMAND_RES))
        .map_or(0, |d| {
            d.items
                .iter()
                .filter(|(_, p)| *p < state.config.gap_threshold)
                .count()
        });
    let layers = vec![
        LayerInfo {
            name: "measured".into(),
            geometry: "hex".into(),
            property: Some("rssi_median_dbm".into()),
            unit: Some("dBm".into()),
            range: measured_range,
            legend: ramp(-135.0, -60.0, "dBm", 0),
            count: finest_measured.map_or(0, super::study::HexIndex::len),
            tiles: tiles("measured"),
            max_res: study.measured.keys().next_back().copied(),
            description: "Median RSSI of the receptions of devices in the hex (links aggregated at each resolution)".into(),
        },
        LayerInfo {
            name: "predicted".into(),
            geometry: "hex".into(),
            property: Some("p_covered".into()),
            unit: Some("probability".into()),
            range: range(
                study
                    .predicted
                    .values()
                    .flat_map(|l| l.items.iter().map(|(_, p)| p.p_covered)),
            ),
            legend: ramp(0.0, 1.0, "", 1),
            count: study
                .predicted
                .values()
                .next_back()
                .map_or(0, super::study::HexIndex::len),
            tiles: tiles("predicted"),
            max_res: study.coverage_res,
            description: format!(
                "P(a device in the hex is heard by at least one existing site), predicted by the model for {} sites",
                study.coverage_sites.len()
            ),
        },
        LayerInfo {
            name: "gaps".into(),
            geometry: "hex".into(),
            property: Some("p_covered".into()),
            unit: Some("probability".into()),
            range: Some([0.0, state.config.gap_threshold]),
            legend: vec![LegendEntry {
                value: state.config.gap_threshold,
                color: "#e4572e".into(),
                label: format!("P(covered) < {}", state.config.gap_threshold),
            }],
            count: gaps,
            tiles: tiles("gaps"),
            max_res: study.demand.keys().next_back().copied(),
            description: "Demand hexes (inside the hull of the measured device positions) the existing network likely misses".into(),
        },
        LayerInfo {
            name: "sites".into(),
            geometry: "point".into(),
            property: None,
            unit: None,
            range: None,
            legend: vec![LegendEntry {
                value: 0.0,
                color: "#1f77b4".into(),
                label: "existing site".into(),
            }],
            count: study.sites.len(),
            tiles: tiles("sites"),
            max_res: None,
            description: "Existing receivers (gateways, hotspots)".into(),
        },
        LayerInfo {
            name: "suggestions".into(),
            geometry: "point".into(),
            property: Some("rank".into()),
            unit: None,
            range: None,
            legend: vec![LegendEntry {
                value: 0.0,
                color: "#ff7f0e".into(),
                label: "suggested site (rank)".into(),
            }],
            count: study.suggestions.len(),
            tiles: tiles("suggestions"),
            max_res: None,
            description: "Sites the study's placement run suggests, ranked".into(),
        },
    ];
    let state_info = |name: &str, color: &str, description: &str, shown: bool| StateInfo {
        state: name.into(),
        color: color.into(),
        description: description.into(),
        shown,
    };
    let states = vec![
        state_info("measured", "#2ca02c", "heard in the data", true),
        state_info(
            "measured_no_signal",
            "#d62728",
            "measured, but no receiver heard the devices",
            study.has_non_receptions,
        ),
        state_info(
            "stale",
            "#9467bd",
            &format!(
                "measured, last heard more than {} days ago",
                state.config.stale_after_days
            ),
            study.has_times,
        ),
        state_info(
            "predicted_only",
            "#ff9896",
            "never measured; the model predicts coverage",
            study.coverage_res.is_some(),
        ),
        state_info(
            "never_measured",
            "#c7c7c7",
            "no data and no prediction",
            true,
        ),
    ];
    let [w, s, e, n] = study.bounds;
    LayersResponse {
        study: study.name.clone(),
        bounds: study.bounds,
        center: [(w + e) / 2.0, (s + n) / 2.0],
        resolution_by_zoom: crate::study::RESOLUTION_BY_ZOOM
            .iter()
            .map(|&(min_zoom, max_zoom, res)| ZoomResolution {
                min_zoom,
                max_zoom,
                res,
            })
            .collect(),
        layers,
        states,
        downloads: study
            .downloads
            .iter()
            .map(|(name, _)| Download {
                name: name.clone(),
                url: format!("/api/v1/downloads/{name}"),
            })
            .collect(),
        gap_threshold: state.config.gap_threshold,
        basemap: state.config.basemap.clone(),
        model: study.model.name(),
    }
}

#[allow(dead_code)]
const _: () = {
    // The zoom table covers exactly the served resolutions.
    assert!(RESOLUTION_BY_ZOOM[0].2 == *SERVED_RESOLUTIONS.start());
    assert!(RESOLUTION_BY_ZOOM[RESOLUTION_BY_ZOOM.len() - 1].2 == *SERVED_RESOLUTIONS.end());
};
