//! `hexcover export STUDY_DIR --pmtiles FILE`: the study's map as one
//! PMTiles v3 archive — for every zoom in the range and every tile over the
//! data, one vector tile holding all five layers (measured, predicted, gaps,
//! sites, suggestions), each layer's features exactly those the server's
//! tile endpoint gives for that tile (`hexcover_server::tile_features`,
//! encoded by the same `hexcover_export::encode_tile`). A static host or a
//! tile server (martin) can then serve the map without hexcover. `--layers`
//! keeps only some of the layers.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use hexcover_export::{TileFeature, TileId, TileValue, encode_tile};
use hexcover_server::{AppState, Layer, ServerConfig, Study, resolution_for_zoom, tile_features};
use pmtiles::{Compression, PmTilesWriter, TileCoord, TileType};
use rayon::prelude::*;

use crate::args::ExportArgs;
use crate::progress::Bar;

/// The deepest zoom an archive may go to. From zoom 16 on the hexes are
/// res 12 (the finest the server draws), so deeper tiles only repeat them
/// at a larger scale; MapLibre over-zooms the last level instead.
pub const MAX_ARCHIVE_ZOOM: u8 = 20;

/// Tiles encoded (in parallel) before they are written (in order).
const BATCH: usize = 2048;

/// Most tile positions one archive may look at (a study spread over a
/// continent at zoom 16 would be billions).
const MAX_TILE_POSITIONS: u64 = 5_000_000;

/// The checked settings of one archive.
#[derive(Debug, Clone, PartialEq)]
pub struct PmtilesSettings {
    pub min_zoom: u8,
    pub max_zoom: u8,
    pub gap_threshold: f64,
    pub stale_after_days: f64,
    /// The layers each tile holds, in the server's drawing order.
    pub layers: Vec<Layer>,
}

impl PmtilesSettings {
    /// The flags of `hexcover export`, checked before any work starts.
    pub fn from_args(args: &ExportArgs) -> Result<Self> {
        if args.max_zoom > MAX_ARCHIVE_ZOOM {
            bail!(
                "--max-zoom = {}: at most {MAX_ARCHIVE_ZOOM} (from zoom 16 on the hexes are res 12; map clients over-zoom the last level)",
                args.max_zoom
            );
        }
        if args.min_zoom > args.max_zoom {
            bail!(
                "--min-zoom = {} is above --max-zoom = {}",
                args.min_zoom,
                args.max_zoom
            );
        }
        crate::serve_cmd::check_map_options(args.gap_threshold, args.stale_after_days)?;
        let mut layers = Vec::new();
        for name in &args.layers {
            let layer = Layer::from_name(name.trim()).ok_or_else(|| {
                anyhow::anyhow!(
                    "--layers: no layer `{}`; known: measured, predicted, gaps, sites, suggestions",
                    name.trim()
                )
            })?;
            layers.push(layer);
        }
        let layers: Vec<Layer> = Layer::ALL
            .into_iter()
            .filter(|l| layers.is_empty() || layers.contains(l))
            .collect();
        Ok(Self {
            layers,
            min_zoom: args.min_zoom,
            max_zoom: args.max_zoom,
            gap_threshold: args.gap_threshold,
            stale_after_days: args.stale_after_days,
        })
    }
}

/// What one archive holds.
#[derive(Debug, Clone, Default)]
pub struct ArchiveSummary {
    /// Tiles written (non-empty), per zoom.
    pub tiles_by_zoom: BTreeMap<u8, u64>,
    /// Tiles looked at (over the data extent), per zoom.
    pub candidates_by_zoom: BTreeMap<u8, u64>,
    /// Encoded (uncompressed) MVT bytes.
    pub mvt_bytes: u64,
}

pub fn run(args: &ExportArgs, out: &Path) -> Result<()> {
    let settings = PmtilesSettings::from_args(args)?;
    let started = Instant::now();
    let bar = Bar::new(args.quiet);
    bar.stage("loading the study");
    let data = crate::serve_cmd::load_study(&args.study, None, None)?;
    let study = Study::new(data).context("indexing the study")?;
    let loaded = started.elapsed();
    let state = AppState::new(study, server_config(&settings));
    let summary = write_archive(&state, &settings, out, &bar)?;
    bar.done();
    if !args.quiet {
        let tiles: u64 = summary.tiles_by_zoom.values().sum();
        let size = std::fs::metadata(out).map_or(0, |m| m.len());
        #[allow(clippy::cast_precision_loss)]
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        println!(
            "{tiles} tiles at zoom {}–{} → {} ({:.1} MiB; {:.1} MiB of MVT before gzip), in {:.1} s ({:.1} s loading)",
            settings.min_zoom,
            settings.max_zoom,
            out.display(),
            mib(size),
            mib(summary.mvt_bytes),
            started.elapsed().as_secs_f64(),
            loaded.as_secs_f64(),
        );
        for (z, n) in &summary.tiles_by_zoom {
            let looked = summary.candidates_by_zoom.get(z).copied().unwrap_or(0);
            println!("  zoom {z:2}: {n} tiles (of {looked} over the data)");
        }
    }
    Ok(())
}

/// The configuration a `hexcover serve` with the same flags starts with:
/// tile contents depend on the gap threshold, the stale age and "now" (the
/// clock at export time, as the server takes it at start).
fn server_config(settings: &PmtilesSettings) -> ServerConfig {
    let now_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    ServerConfig {
        gap_threshold: settings.gap_threshold,
        stale_after_days: settings.stale_after_days,
        now_unix_ms,
        ..ServerConfig::default()
    }
}

/// West, south, east, north of everything the layers can draw: the study's
/// bounds (links and sites) and every hex of every hex layer (predicted
/// coverage reaches beyond the measured area).
#[must_use]
pub fn data_extent(study: &Study) -> [f64; 4] {
    let mut b = study.bounds;
    let mut extend = |ring: &[(f64, f64)]| {
        for &(lon, lat) in ring {
            b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
        }
    };
    for index in study.measured.values() {
        index.outlines.iter().for_each(|r| extend(r));
    }
    for index in study.predicted.values() {
        index.outlines.iter().for_each(|r| extend(r));
    }
    for index in study.demand.values() {
        index.outlines.iter().for_each(|r| extend(r));
    }
    for s in &study.suggestions {
        extend(&[(s.lon, s.lat)]);
    }
    b
}

/// The north-west and south-east tiles of zoom `z` over `extent`.
fn tile_range(extent: [f64; 4], z: u8) -> (TileId, TileId) {
    let [w, s, e, n] = extent;
    (TileId::containing(n, w, z), TileId::containing(s, e, z))
}

/// Every tile of zoom `z` that meets `extent`.
fn tiles_over(extent: [f64; 4], z: u8) -> impl Iterator<Item = TileId> {
    let (nw, se) = tile_range(extent, z);
    (nw.x..=se.x).flat_map(move |x| (nw.y..=se.y).map(move |y| TileId { z, x, y }))
}

/// One tile with `layers`, each as the server's tile endpoint builds it.
///
/// # Errors
/// The encoder's message (a bug, as in the server).
pub fn tile_with_layers(
    state: &AppState,
    layers: &[Layer],
    tile: TileId,
) -> Result<(Vec<u8>, LayerFields)> {
    let layers: Vec<(Layer, Vec<TileFeature>)> = layers
        .iter()
        .map(|&layer| (layer, tile_features(state, layer, tile)))
        .collect();
    let named: Vec<(&str, &[TileFeature])> = layers
        .iter()
        .map(|(layer, features)| (layer.name(), features.as_slice()))
        .collect();
    let bytes = encode_tile(tile, &named)
        .map_err(|e| anyhow::anyhow!("encoding tile {}/{}/{}: {e}", tile.z, tile.x, tile.y))?;
    let mut fields = LayerFields::default();
    if !bytes.is_empty() {
        for (layer, features) in &layers {
            fields.add(*layer, tile.z, features);
        }
    }
    Ok((bytes, fields))
}

/// The properties each layer carries (name → `String`/`Number`) and the
/// zooms it has features at: the archive's `vector_layers`.
#[derive(Debug, Clone, Default)]
pub struct LayerFields {
    layers: BTreeMap<&'static str, (BTreeMap<&'static str, &'static str>, u8, u8)>,
}

impl LayerFields {
    fn add(&mut self, layer: Layer, z: u8, features: &[TileFeature]) {
        if features.is_empty() {
            return;
        }
        let entry = self
            .layers
            .entry(layer.name())
            .or_insert_with(|| (BTreeMap::new(), z, z));
        entry.1 = entry.1.min(z);
        entry.2 = entry.2.max(z);
        for feature in features {
            for (key, value) in &feature.properties {
                let kind = match value {
                    TileValue::Text(_) => "String",
                    TileValue::Float(_) | TileValue::Int(_) => "Number",
                };
                entry.0.entry(key).or_insert(kind);
            }
        }
    }

    fn merge(&mut self, other: Self) {
        for (name, (fields, lo, hi)) in other.layers {
            let entry = self
                .layers
                .entry(name)
                .or_insert_with(|| (BTreeMap::new(), lo, hi));
            entry.1 = entry.1.min(lo);
            entry.2 = entry.2.max(hi);
            for (k, v) in fields {
                entry.0.entry(k).or_insert(v);
            }
        }
    }

    /// TileJSON 3.0 `vector_layers` of `layers`; a layer with no feature
    /// anywhere is still listed (with the archive's zooms).
    fn vector_layers(&self, layers: &[Layer], min_zoom: u8, max_zoom: u8) -> serde_json::Value {
        layers
            .iter()
            .map(|layer| {
                let (fields, lo, hi) = self.layers.get(layer.name()).cloned().unwrap_or((
                    BTreeMap::new(),
                    min_zoom,
                    max_zoom,
                ));
                serde_json::json!({
                    "id": layer.name(),
                    "fields": fields,
                    "minzoom": lo,
                    "maxzoom": hi,
                    "description": layer_description(*layer),
                })
            })
            .collect()
    }
}

fn layer_description(layer: Layer) -> &'static str {
    match layer {
        Layer::Measured => "Measured hexes: reception statistics of the devices in the hex",
        Layer::Predicted => {
            "P(a device in the hex is heard by at least one existing site), predicted"
        }
        Layer::Gaps => {
            "Demand hexes the existing network likely misses (P(covered) below the gap threshold)"
        }
        Layer::Sites => "Existing receivers (gateways, hotspots)",
        Layer::Suggestions => "Sites the study's placement run suggests, ranked",
    }
}

/// One tile, encoded and compressed off the writer's thread.
struct Encoded {
    tile: TileId,
    /// The gzip'ed MVT, empty when the tile has no feature.
    gz: Vec<u8>,
    mvt_len: usize,
    fields: LayerFields,
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), GzLevel::default());
    encoder.write_all(bytes).context("compressing a tile")?;
    encoder.finish().context("compressing a tile")
}

/// Write the archive of `state`'s study to `out` (atomically).
///
/// # Errors
/// Encoding or I/O errors, naming the tile or the file.
pub fn write_archive(
    state: &AppState,
    settings: &PmtilesSettings,
    out: &Path,
    bar: &Bar,
) -> Result<ArchiveSummary> {
    let extent = data_extent(&state.study);
    let positions: u64 = (settings.min_zoom..=settings.max_zoom)
        .map(|z| {
            let (nw, se) = tile_range(extent, z);
            u64::from(se.x.saturating_sub(nw.x) + 1) * u64::from(se.y.saturating_sub(nw.y) + 1)
        })
        .sum();
    if positions > MAX_TILE_POSITIONS {
        let [w, s, e, n] = extent;
        bail!(
            "the data spans {w:.3},{s:.3} to {e:.3},{n:.3}: {positions} tile positions at zoom {}–{}, more than {MAX_TILE_POSITIONS}; lower --max-zoom",
            settings.min_zoom,
            settings.max_zoom
        );
    }
    let mut tiles: Vec<(u64, TileId)> = (settings.min_zoom..=settings.max_zoom)
        .flat_map(|z| tiles_over(extent, z))
        .map(|t| {
            let coord = TileCoord::new(t.z, t.x, t.y)
                .map_err(|e| anyhow::anyhow!("tile {}/{}/{}: {e}", t.z, t.x, t.y))?;
            Ok((u64::from(pmtiles::TileId::from(coord)), t))
        })
        .collect::<Result<_>>()?;
    // Ascending tile ids: a clustered archive (one read per directory).
    tiles.sort_unstable_by_key(|(id, _)| *id);
    let mut summary = ArchiveSummary::default();
    for (_, t) in &tiles {
        *summary.candidates_by_zoom.entry(t.z).or_default() += 1;
    }
    let total = tiles.len() as u64;
    bar.counter("tiles", total);

    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut fields = LayerFields::default();
    hexcover_export::write_atomically(out, |tmp| {
        let file = File::create(tmp).map_err(|e| hexcover_export::Error::io(out, e))?;
        let mut writer = PmTilesWriter::new(TileType::Mvt)
            .precompressed(Compression::Gzip)
            .internal_compression(Compression::Gzip)
            .min_zoom(settings.min_zoom)
            .max_zoom(settings.max_zoom)
            .create(BufWriter::new(file))
            .map_err(|e| pmtiles_error(out, &e))?;
        for batch in tiles.chunks(BATCH) {
            let encoded: Vec<Result<Encoded>> = batch
                .par_iter()
                .map(|&(_, tile)| {
                    let (mvt, fields) = tile_with_layers(state, &settings.layers, tile)?;
                    let gz = if mvt.is_empty() {
                        Vec::new()
                    } else {
                        gzip(&mvt)?
                    };
                    Ok(Encoded {
                        tile,
                        gz,
                        mvt_len: mvt.len(),
                        fields,
                    })
                })
                .collect();
            for result in encoded {
                let Encoded {
                    tile,
                    gz,
                    mvt_len,
                    fields: layer_fields,
                } = result.map_err(|e| hexcover_export::Error::Content {
                    path: out.to_path_buf(),
                    message: format!("{e:#}"),
                })?;
                bar.advance(1);
                if gz.is_empty() {
                    continue;
                }
                let coord =
                    TileCoord::new(tile.z, tile.x, tile.y).map_err(|e| pmtiles_error(out, &e))?;
                writer
                    .add_tile(coord, &gz)
                    .map_err(|e| pmtiles_error(out, &e))?;
                *summary.tiles_by_zoom.entry(tile.z).or_default() += 1;
                summary.mvt_bytes += mvt_len as u64;
                fields.merge(layer_fields);
            }
        }
        let [w, s, e, n] = extent;
        writer.set_bounds(w, s, e, n);
        let center_zoom = 12u8.clamp(settings.min_zoom, settings.max_zoom);
        writer.set_center((w + e) / 2.0, (s + n) / 2.0, center_zoom);
        writer.set_metadata(metadata(state, settings, extent, &fields).to_string());
        writer.finalize().map_err(|e| pmtiles_error(out, &e))
    })?;
    Ok(summary)
}

fn pmtiles_error(path: &Path, e: &pmtiles::PmtError) -> hexcover_export::Error {
    hexcover_export::Error::Content {
        path: path.to_path_buf(),
        message: format!("writing PMTiles: {e}"),
    }
}

/// The archive's JSON metadata: TileJSON-style name, description and
/// `vector_layers` (what martin and MapLibre read), and the settings the
/// tiles were made with.
fn metadata(
    state: &AppState,
    settings: &PmtilesSettings,
    extent: [f64; 4],
    fields: &LayerFields,
) -> serde_json::Value {
    let study = &state.study;
    let by_zoom: Vec<serde_json::Value> = (settings.min_zoom..=settings.max_zoom)
        .map(|z| serde_json::json!({"zoom": z, "res": resolution_for_zoom(z)}))
        .collect();
    serde_json::json!({
        "name": format!("hexcover: {}", study.name),
        "description": "LoRaWAN coverage per H3 hex: measured, predicted, gaps, existing and suggested sites",
        "format": "pbf",
        "type": "overlay",
        "generator": format!("hexcover {}", env!("CARGO_PKG_VERSION")),
        "minzoom": settings.min_zoom,
        "maxzoom": settings.max_zoom,
        "bounds": extent,
        "center": [(extent[0] + extent[2]) / 2.0, (extent[1] + extent[3]) / 2.0, 12u8.clamp(settings.min_zoom, settings.max_zoom)],
        "vector_layers": fields.vector_layers(&settings.layers, settings.min_zoom, settings.max_zoom),
        "hexcover": {
            "study": study.name,
            "study_bounds": study.bounds,
            "resolution_by_zoom": by_zoom,
            "gap_threshold": state.config.gap_threshold,
            "stale_after_days": state.config.stale_after_days,
            "now_unix_ms": state.config.now_unix_ms,
            "model": study.model.name(),
        },
    })
}
