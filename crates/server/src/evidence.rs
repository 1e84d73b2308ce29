//! `GET /api/v1/hexes/{cell}`: the evidence for one hex — what was measured
//! there, who heard it, what the model predicts, and the hex's state.

use std::collections::BTreeMap;

use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::HexStats;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::study::SERVED_RESOLUTIONS;

/// Measured statistics of a hex (over its links, never from finer hexes).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasuredStats {
    /// Links with their transmitter in the hex.
    pub n_links: u64,
    /// Heard links.
    pub n_heard: u64,
    /// Links the source marks invalid.
    pub n_invalid: u64,
    /// Distinct transmitters, where the source names them.
    pub n_transmitters: Option<u64>,
    /// Distinct receivers that heard it.
    pub n_receivers: Option<u64>,
    /// Mean RSSI, dBm.
    pub rssi_mean_dbm: Option<f64>,
    /// Median RSSI, dBm.
    pub rssi_median_dbm: Option<f64>,
    /// 10th percentile RSSI, dBm.
    pub rssi_p10_dbm: Option<f64>,
    /// 90th percentile RSSI, dBm.
    pub rssi_p90_dbm: Option<f64>,
    /// Strongest RSSI, dBm.
    pub rssi_max_dbm: Option<f64>,
    /// Mean SNR, dB.
    pub snr_mean_db: Option<f64>,
    /// The receiver with the strongest RSSI.
    pub best_rx_id: Option<String>,
    /// First reception, ms since the Unix epoch.
    pub first_seen_unix_ms: Option<i64>,
    /// Last reception, ms since the Unix epoch.
    pub last_seen_unix_ms: Option<i64>,
}

impl From<&HexStats> for MeasuredStats {
    fn from(h: &HexStats) -> Self {
        Self {
            n_links: h.n_links,
            n_heard: h.n_heard,
            n_invalid: h.n_invalid,
            n_transmitters: h.n_transmitters,
            n_receivers: h.n_receivers,
            rssi_mean_dbm: h.rssi_mean_dbm,
            rssi_median_dbm: h.rssi_median_dbm,
            rssi_p10_dbm: h.rssi_p10_dbm,
            rssi_p90_dbm: h.rssi_p90_dbm,
            rssi_max_dbm: h.rssi_max_dbm,
            snr_mean_db: h.snr_mean_db,
            best_rx_id: h.best_rx_id.clone(),
            first_seen_unix_ms: h.first_seen_unix_ms,
            last_seen_unix_ms: h.last_seen_unix_ms,
        }
    }
}

/// A receiver that heard devices in the hex.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReceiverEvidence {
    /// Receiver id.
    pub id: String,
    /// Its name, where the site registry has one.
    pub name: Option<String>,
    /// Links it heard from the hex.
    pub n_links: u64,
    /// Strongest RSSI, dBm.
    pub rssi_max_dbm: Option<f64>,
    /// Median RSSI, dBm.
    pub rssi_median_dbm: Option<f64>,
}

/// The model's prediction for the hex.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PredictionEvidence {
    /// P(covered) — at coarser resolutions than the coverage, the expected covered share.
    pub p_covered: f64,
    /// Predicted RSSI at the strongest site, dBm.
    pub rssi_pred_dbm: f64,
    /// 80 % interval, lower end, dBm (at the coverage resolution).
    pub rssi_p10_dbm: Option<f64>,
    /// 80 % interval, upper end, dBm.
    pub rssi_p90_dbm: Option<f64>,
    /// The strongest site.
    pub best_site: Option<String>,
    /// The resolution the prediction is at (the coverage's, for finer hexes).
    pub res: u8,
}

/// `GET /api/v1/hexes/{cell}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HexEvidence {
    /// The cell.
    pub cell: String,
    /// Its resolution.
    pub res: u8,
    /// Its centre, (lon, lat).
    pub center: [f64; 2],
    /// measured, measured_no_signal, stale, predicted_only or never_measured.
    pub state: String,
    /// Measured statistics, where measured.
    pub measured: Option<MeasuredStats>,
    /// Receivers that heard devices in the hex, strongest first.
    pub receivers: Vec<ReceiverEvidence>,
    /// The model's prediction, where the study has coverage there.
    pub prediction: Option<PredictionEvidence>,
    /// Whether the hex is demand (inside the study's hull) and a gap.
    pub gap: Option<bool>,
    /// What the data cannot show.
    pub notes: Vec<String>,
}

/// Parse a cell id from a path.
///
/// # Errors
/// 400 when it is not an H3 cell or its resolution is not served.
pub fn parse_cell(text: &str) -> ApiResult<CellIndex> {
    let cell: CellIndex = text.parse().map_err(|_| {
        ApiError::bad_request(format!("`{text}` is not an H3 cell index (15 hex digits)"))
    })?;
    let res = u8::from(cell.resolution());
    if !SERVED_RESOLUTIONS.contains(&res) {
        return Err(ApiError::bad_request(format!(
            "cell `{text}` is at res {res}; evidence is kept for res {} to {}",
            SERVED_RESOLUTIONS.start(),
            SERVED_RESOLUTIONS.end()
        )));
    }
    Ok(cell)
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        f64::midpoint(values[mid - 1], values[mid])
    })
}

/// The evidence for `cell`.
#[must_use]
pub fn evidence(state: &AppState, cell: CellIndex) -> HexEvidence {
    let study = &state.study;
    let res = u8::from(cell.resolution());
    let measured = study.measured.get(&res).and_then(|layer| layer.get(cell));

    // Receivers: heard, valid links of the hex, by receiver.
    let mut by_rx: BTreeMap<u32, (u64, Vec<f64>)> = BTreeMap::new();
    for (_, link) in study.links_in(cell) {
        if let (true, true, Some(rx)) = (link.heard, link.valid, link.rx) {
            let entry = by_rx.entry(rx).or_default();
            entry.0 += 1;
            if let Some(rssi) = link.rssi_dbm {
                entry.1.push(rssi);
            }
        }
    }
    let mut receivers: Vec<ReceiverEvidence> = by_rx
        .into_iter()
        .map(|(rx, (n, mut rssi))| {
            let id = study
                .receivers
                .get(rx as usize)
                .cloned()
                .unwrap_or_default();
            let name = study
                .sites
                .iter()
                .find(|s| s.id == id)
                .and_then(|s| s.name.clone());
            ReceiverEvidence {
                rssi_max_dbm: rssi.iter().copied().reduce(f64::max),
                rssi_median_dbm: median(&mut rssi),
                id,
                name,
                n_links: n,
            }
        })
        .collect();
    receivers.sort_by(|a, b| {
        b.rssi_max_dbm
            .unwrap_or(f64::MIN)
            .total_cmp(&a.rssi_max_dbm.unwrap_or(f64::MIN))
    });

    // Prediction at this resolution, or at the coverage resolution for finer hexes.
    let prediction = study.coverage_res.and_then(|max| {
        let at = if res > max {
            Resolution::try_from(max)
                .ok()
                .and_then(|r| cell.parent(r))?
        } else {
            cell
        };
        let p = study.predicted.get(&res.min(max))?.get(at)?;
        Some(PredictionEvidence {
            p_covered: p.p_covered,
            rssi_pred_dbm: p.rssi_pred_dbm,
            rssi_p10_dbm: p.interval_dbm.map(|i| i.0),
            rssi_p90_dbm: p.interval_dbm.map(|i| i.1),
            best_site: p
                .best_site
                .and_then(|i| study.coverage_sites.get(i as usize).cloned()),
            res: res.min(max),
        })
    });

    let state_name = match (measured, &prediction) {
        (Some(h), _) => crate::tiles::measured_state(state, h),
        (None, Some(_)) => "predicted_only",
        (None, None) => "never_measured",
    };
    let gap = study
        .demand
        .get(&res)
        .and_then(|d| d.get(cell))
        .map(|&p| p < state.config.gap_threshold);

    let mut notes = Vec::new();
    if !study.has_times {
        notes.push("the data carry no reception times: staleness cannot be shown".to_owned());
    }
    if !study.has_non_receptions {
        notes.push(
            "the data record only receptions: a hex where nobody heard a device cannot be told from one never measured"
                .to_owned(),
        );
    }
    if study.coverage_res.is_none() {
        notes.push("the study has no predicted coverage".to_owned());
    } else if prediction.is_none() {
        notes.push("outside the radius of the predicted coverage".to_owned());
    }
    let centre = LatLng::from(cell);
    HexEvidence {
        cell: cell.to_string(),
        res,
        center: [centre.lng(), centre.lat()],
        state: state_name.to_owned(),
        measured: measured.map(MeasuredStats::from),
        receivers,
        prediction,
        gap,
        notes,
    }
}
