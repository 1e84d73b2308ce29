//! `GET /api/v1/sites`: existing and suggested sites as GeoJSON.

use serde_json::{Value, json};

use crate::study::Study;

/// Existing sites (`kind: existing`) and suggested sites (`kind: suggested`)
/// as one GeoJSON FeatureCollection.
#[must_use]
pub fn sites_geojson(study: &Study) -> Value {
    let point = |lon: f64, lat: f64| json!({"type": "Point", "coordinates": [lon, lat]});
    let existing = study.sites.iter().map(|s| {
        json!({
            "type": "Feature",
            "geometry": point(s.lon, s.lat),
            "properties": {
                "kind": "existing",
                "id": s.id,
                "name": s.name,
                "source": s.source,
                "height_agl_m": s.height_agl_m,
                "gain_dbi": s.gain_dbi,
            },
        })
    });
    let suggested = study.suggestions.iter().map(|s| {
        json!({
            "type": "Feature",
            "geometry": point(s.lon, s.lat),
            "properties": {
                "kind": "suggested",
                "id": s.id,
                "rank": s.rank,
                "marginal_gain": s.marginal_gain,
                "demand_added": s.demand_added,
                "reward_scale": s.reward_scale,
                "height_agl_m": s.height_agl_m,
                "bound_by": s.bound_by,
            },
        })
    });
    json!({
        "type": "FeatureCollection",
        "features": existing.chain(suggested).collect::<Vec<_>>(),
    })
}
