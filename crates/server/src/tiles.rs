//! `GET /api/v1/tiles/{layer}/{z}/{x}/{y}.mvt`: vector tiles of the study's
//! layers, hexes at the resolution the zoom calls for, cached once encoded.

use hexcover_core::HexStats;
use hexcover_export::{TileFeature, TileGeometry, TileId, TileValue, encode_tile};

use crate::error::{ApiError, ApiResult};
use crate::layers::Layer;
use crate::state::AppState;
use crate::study::{HexIndex, Predicted, Study, resolution_for_zoom};

/// Parse the path parts of a tile request.
///
/// # Errors
/// 404 for an unknown layer, 400 for coordinates that are not a tile.
pub fn parse_tile(layer: &str, z: &str, x: &str, y: &str) -> ApiResult<(Layer, TileId)> {
    let layer = Layer::from_name(layer).ok_or_else(|| {
        ApiError::not_found(format!(
            "no layer `{layer}`: expected one of measured, predicted, gaps, sites, suggestions"
        ))
    })?;
    let y = y
        .strip_suffix(".mvt")
        .ok_or_else(|| ApiError::bad_request(format!("`{y}`: a tile path ends in {{y}}.mvt")))?;
    let number = |name: &str, text: &str| {
        text.parse::<u32>().map_err(|_| {
            ApiError::bad_request(format!(
                "{name} = `{text}`: expected a non-negative integer"
            ))
        })
    };
    let tile = TileId::new(number("z", z)?, number("x", x)?, number("y", y)?)
        .map_err(ApiError::bad_request)?;
    Ok((layer, tile))
}

/// The encoded tile (empty when nothing of the layer is in it).
///
/// # Errors
/// 500 if encoding fails (a bug, not the caller's fault).
pub fn tile_bytes(state: &AppState, layer: Layer, tile: TileId) -> ApiResult<axum::body::Bytes> {
    #[allow(clippy::cast_possible_truncation)]
    let key = (layer as u8, tile.z, tile.x, tile.y);
    if let Some(bytes) = state.tiles.get(key) {
        return Ok(bytes);
    }
    let features = features(state, layer, tile);
    let bytes = encode_tile(tile, &[(layer.name(), &features)])
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let bytes = axum::body::Bytes::from(bytes);
    state.tiles.put(key, bytes.clone());
    Ok(bytes)
}

/// The features of `layer` in `tile` (with a margin so hexes on the edge are whole).
#[must_use]
pub fn features(state: &AppState, layer: Layer, tile: TileId) -> Vec<TileFeature> {
    let study = &state.study;
    let [w, s, e, n] = tile.bounds_deg();
    let margin_x = (e - w) * 0.02;
    let margin_y = (n - s) * 0.02;
    let bounds = [w - margin_x, s - margin_y, e + margin_x, n + margin_y];
    let res = resolution_for_zoom(tile.z);
    match layer {
        Layer::Measured => hex_features(study.measured.get(&res), bounds, |cell, h| {
            measured_properties(state, cell.resolution(), h)
        }),
        Layer::Predicted => {
            let res = study.coverage_res.map_or(res, |max| res.min(max));
            hex_features(study.predicted.get(&res), bounds, |cell, p| {
                predicted_properties(study, res, cell, p)
            })
        }
        Layer::Gaps => {
            let res = study
                .demand
                .keys()
                .next_back()
                .map_or(res, |&max| res.min(max));
            let threshold = state.config.gap_threshold;
            let Some(index) = study.demand.get(&res) else {
                return Vec::new();
            };
            index
                .in_bounds(bounds)
                .into_iter()
                .filter(|&i| index.items[i].1 < threshold)
                .map(|i| {
                    let (cell, p) = index.items[i];
                    TileFeature {
                        id: u64::from(cell),
                        geometry: TileGeometry::Polygon(index.outlines[i].clone()),
                        properties: vec![
                            ("cell", TileValue::Text(cell.to_string())),
                            ("res", TileValue::Int(i64::from(res))),
                            ("p_covered", TileValue::Float(p)),
                            ("weight", TileValue::Float(1.0 - p)),
                        ],
                    }
                })
                .collect()
        }
        Layer::Sites => study
            .sites
            .iter()
            .enumerate()
            .map(|(i, site)| {
                let mut properties = vec![
                    ("id", TileValue::Text(site.id.clone())),
                    ("source", TileValue::Text(site.source.clone())),
                ];
                if let Some(name) = &site.name {
                    properties.push(("name", TileValue::Text(name.clone())));
                }
                if let Some(h) = site.height_agl_m {
                    properties.push(("height_agl_m", TileValue::Float(h)));
                }
                TileFeature {
                    id: i as u64,
                    geometry: TileGeometry::Point(site.lon, site.lat),
                    properties,
                }
            })
            .collect(),
        Layer::Suggestions => study
            .suggestions
            .iter()
            .map(|s| TileFeature {
                id: u64::from(s.rank),
                geometry: TileGeometry::Point(s.lon, s.lat),
                properties: vec![
                    ("id", TileValue::Text(s.id.clone())),
                    ("rank", TileValue::Int(i64::from(s.rank))),
                    ("marginal_gain", TileValue::Float(s.marginal_gain)),
                    (
                        "demand_added",
                        TileValue::Int(i64::try_from(s.demand_added).unwrap_or(i64::MAX)),
                    ),
                    ("reward_scale", TileValue::Float(s.reward_scale)),
                ],
            })
            .collect(),
    }
}

fn hex_features<T>(
    index: Option<&HexIndex<T>>,
    bounds: [f64; 4],
    properties: impl Fn(h3o::CellIndex, &T) -> Vec<(&'static str, TileValue)>,
) -> Vec<TileFeature> {
    let Some(index) = index else {
        return Vec::new();
    };
    index
        .in_bounds(bounds)
        .into_iter()
        .map(|i| {
            let (cell, value) = &index.items[i];
            TileFeature {
                id: u64::from(*cell),
                geometry: TileGeometry::Polygon(index.outlines[i].clone()),
                properties: properties(*cell, value),
            }
        })
        .collect()
}

/// A measured hex's state: no signal where every link was a non-reception,
/// stale where its last reception is older than the configured age.
#[must_use]
pub fn measured_state(state: &AppState, h: &HexStats) -> &'static str {
    if h.n_heard == 0 {
        return "measured_no_signal";
    }
    let stale_ms = state.config.stale_after_days * 86_400_000.0;
    match h.last_seen_unix_ms {
        #[allow(clippy::cast_precision_loss)]
        Some(last) if ((state.config.now_unix_ms - last) as f64) > stale_ms => "stale",
        _ => "measured",
    }
}

fn measured_properties(
    state: &AppState,
    res: h3o::Resolution,
    h: &HexStats,
) -> Vec<(&'static str, TileValue)> {
    let mut p = vec![
        ("cell", TileValue::Text(h.cell.to_string())),
        ("res", TileValue::Int(i64::from(u8::from(res)))),
        ("state", TileValue::Text(measured_state(state, h).into())),
        (
            "n_links",
            TileValue::Int(i64::try_from(h.n_links).unwrap_or(i64::MAX)),
        ),
        (
            "n_heard",
            TileValue::Int(i64::try_from(h.n_heard).unwrap_or(i64::MAX)),
        ),
    ];
    if let Some(v) = h.n_receivers {
        p.push((
            "n_receivers",
            TileValue::Int(i64::try_from(v).unwrap_or(i64::MAX)),
        ));
    }
    for (key, value) in [
        ("rssi_median_dbm", h.rssi_median_dbm),
        ("rssi_max_dbm", h.rssi_max_dbm),
        ("rssi_p10_dbm", h.rssi_p10_dbm),
        ("rssi_p90_dbm", h.rssi_p90_dbm),
    ] {
        if let Some(v) = value {
            p.push((key, TileValue::Float(v)));
        }
    }
    if let Some(t) = h.last_seen_unix_ms {
        p.push(("last_seen_unix_ms", TileValue::Int(t)));
    }
    p
}

fn predicted_properties(
    study: &Study,
    res: u8,
    cell: h3o::CellIndex,
    p: &Predicted,
) -> Vec<(&'static str, TileValue)> {
    let measured = study
        .measured
        .get(&res)
        .is_some_and(|layer| layer.get(cell).is_some());
    let mut props = vec![
        ("cell", TileValue::Text(cell.to_string())),
        ("res", TileValue::Int(i64::from(res))),
        (
            "state",
            TileValue::Text(
                if measured {
                    "measured"
                } else {
                    "predicted_only"
                }
                .into(),
            ),
        ),
        ("p_covered", TileValue::Float(p.p_covered)),
        ("rssi_pred_dbm", TileValue::Float(p.rssi_pred_dbm)),
    ];
    if let Some((lo, hi)) = p.interval_dbm {
        props.push(("rssi_p10_dbm", TileValue::Float(lo)));
        props.push(("rssi_p90_dbm", TileValue::Float(hi)));
    }
    props
}
