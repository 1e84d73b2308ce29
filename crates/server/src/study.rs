//! The study the server answers about: what the caller loads ([`StudyData`])
//! and the indexes built from it once at start ([`Study`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use h3o::{CellIndex, LatLng, Resolution};
use hexcover_core::{HexCoverage, HexStats, Site, Terrain};
use hexcover_optimizer::cells_in_hull;
use hexcover_propagation::{LearnedModel, PhysicsBaseline, RssiModel};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

/// One reception (or recorded non-reception) as the evidence needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkEvidence {
    /// Transmitter (device) latitude, degrees.
    pub tx_lat: f64,
    /// Transmitter longitude, degrees.
    pub tx_lon: f64,
    /// Index into [`StudyData::receivers`], where the link names its receiver.
    pub rx: Option<u32>,
    /// RSSI, dBm, where heard.
    pub rssi_dbm: Option<f64>,
    /// Heard (false: a recorded non-reception).
    pub heard: bool,
    /// Not marked invalid by its source.
    pub valid: bool,
    /// Reception time, ms since the Unix epoch, where the source has one.
    pub time_unix_ms: Option<i64>,
}

/// A site the study's placement run suggested (`suggested.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// Candidate id.
    pub id: String,
    /// Rank, 1 = first to build.
    pub rank: u32,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Antenna height above ground, m.
    pub height_agl_m: f64,
    /// Expected demand it adds in rank order.
    pub marginal_gain: f64,
    /// Demand cells it adds to.
    pub demand_added: u64,
    /// Reward scale under the density rules.
    pub reward_scale: f64,
    /// Rules that bound it (`;`-separated), empty when none.
    pub bound_by: String,
}

/// The radio assumptions for new sites (what-if and placement).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Radio {
    /// Device antenna height above ground, m.
    pub device_height_agl_m: f64,
    /// Device EIRP, dBm.
    pub device_eirp_dbm: f64,
    /// Carrier frequency, MHz.
    pub freq_mhz: f64,
    /// Terrain sample step along each radial, m (the model's training step).
    pub sample_step_m: f64,
    /// Default antenna height of a new site, m.
    pub site_height_agl_m: f64,
    /// Default antenna gain of a new site, dBi.
    pub site_gain_dbi: f64,
    /// A device counts as heard at RSSI ≥ this, dBm.
    pub threshold_dbm: f64,
}

impl Default for Radio {
    fn default() -> Self {
        Self {
            device_height_agl_m: hexcover_propagation::DEFAULT_DEVICE_HEIGHT_AGL_M,
            device_eirp_dbm: hexcover_propagation::DEFAULT_DEVICE_EIRP_DBM,
            freq_mhz: hexcover_propagation::DEFAULT_FREQ_MHZ,
            sample_step_m: hexcover_propagation::DEFAULT_SAMPLE_STEP_M,
            site_height_agl_m: hexcover_propagation::DEFAULT_SITE_HEIGHT_AGL_M,
            site_gain_dbi: hexcover_propagation::DEFAULT_SITE_GAIN_DBI,
            threshold_dbm: hexcover_propagation::DEFAULT_THRESHOLD_DBM,
        }
    }
}

/// The RSSI model new sites are predicted with.
#[derive(Debug, Clone)]
pub enum SiteModel {
    /// The study's learned model (a new site gets the population default).
    Learned(Arc<LearnedModel>),
    /// Physics only (free space + Bullington), when the study has no model.
    Physics(PhysicsBaseline),
}

impl SiteModel {
    /// The model for a site nobody has measured.
    #[must_use]
    pub fn for_new_site(&self) -> &dyn RssiModel {
        match self {
            Self::Learned(m) => m.as_ref(),
            Self::Physics(m) => m,
        }
    }

    /// Its name, for answers.
    #[must_use]
    pub fn name(&self) -> String {
        self.for_new_site().name()
    }
}

/// Everything the caller loads from a study directory.
pub struct StudyData {
    /// A display name (the study directory).
    pub name: String,
    /// Measured hex statistics, one list per resolution, each aggregated
    /// from the links themselves.
    pub hexes: Vec<(Resolution, Vec<HexStats>)>,
    /// The links, for per-hex evidence.
    pub links: Vec<LinkEvidence>,
    /// Receiver ids, indexed by [`LinkEvidence::rx`].
    pub receivers: Vec<String>,
    /// Existing sites.
    pub sites: Vec<Site>,
    /// Predicted coverage of existing sites: (site id, cells), all at one resolution.
    pub coverage: Vec<(String, Vec<HexCoverage>)>,
    /// Suggested sites of the study's placement run.
    pub suggestions: Vec<Suggestion>,
    /// Radio assumptions for new sites.
    pub radio: Radio,
    /// The model for new sites.
    pub model: SiteModel,
    /// The elevation model; what-if and placement need it.
    pub terrain: Option<Arc<dyn Terrain>>,
    /// Files offered for download: (file name, path).
    pub downloads: Vec<(String, PathBuf)>,
}

/// The cells of one hex layer at one resolution with a spatial index of
/// their bounding boxes and their outlines.
pub struct HexIndex<T> {
    /// (cell, value), sorted by cell.
    pub items: Vec<(CellIndex, T)>,
    /// Each cell's outline, (lon, lat), same order as `items`.
    pub outlines: Vec<Vec<(f64, f64)>>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl<T> HexIndex<T> {
    /// Index `items` (any order).
    pub fn new(mut items: Vec<(CellIndex, T)>) -> Self {
        items.sort_by_key(|(cell, _)| *cell);
        let outlines: Vec<Vec<(f64, f64)>> = items
            .iter()
            .map(|(cell, _)| {
                cell.boundary()
                    .iter()
                    .map(|ll| (ll.lng(), ll.lat()))
                    .collect()
            })
            .collect();
        let boxes = outlines
            .iter()
            .enumerate()
            .map(|(i, ring)| {
                let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
                for &(lon, lat) in ring {
                    (w, s, e, n) = (w.min(lon), s.min(lat), e.max(lon), n.max(lat));
                }
                GeomWithData::new(Rectangle::from_corners([w, s], [e, n]), i)
            })
            .collect();
        Self {
            items,
            outlines,
            tree: RTree::bulk_load(boxes),
        }
    }

    /// The value of `cell`, if the layer has it.
    pub fn get(&self, cell: CellIndex) -> Option<&T> {
        self.items
            .binary_search_by_key(&cell, |(c, _)| *c)
            .ok()
            .map(|i| &self.items[i].1)
    }

    /// Indexes of the cells whose bounding box meets [west, south, east, north].
    pub fn in_bounds(&self, bounds: [f64; 4]) -> Vec<usize> {
        let envelope = AABB::from_corners([bounds[0], bounds[1]], [bounds[2], bounds[3]]);
        let mut out: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(&envelope)
            .map(|g| g.data)
            .collect();
        out.sort_unstable();
        out
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No cells.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The predicted coverage of one cell by the existing network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predicted {
    /// P(a device here is heard by at least one site); at coarser
    /// resolutions the expected share of the cell that is covered.
    pub p_covered: f64,
    /// Predicted RSSI at the strongest site, dBm (coarser: mean over the
    /// predicted child cells).
    pub rssi_pred_dbm: f64,
    /// 80 % interval of that RSSI, at the coverage resolution only.
    pub interval_dbm: Option<(f64, f64)>,
    /// Index into the coverage site ids of the strongest site, at the coverage resolution only.
    pub best_site: Option<u32>,
}

/// The study, indexed for tiles, evidence, what-if and placement.
pub struct Study {
    /// Display name.
    pub name: String,
    /// Measured hexes per resolution.
    pub measured: BTreeMap<u8, HexIndex<HexStats>>,
    /// Predicted coverage per resolution, up to [`Study::coverage_res`].
    pub predicted: BTreeMap<u8, HexIndex<Predicted>>,
    /// Demand cells per resolution (in the hull of the device positions)
    /// with their P(covered) by the existing network.
    pub demand: BTreeMap<u8, HexIndex<f64>>,
    /// The resolution of the per-site coverage (finest predicted layer).
    pub coverage_res: Option<u8>,
    /// Ids of the sites whose coverage was loaded.
    pub coverage_sites: Vec<String>,
    /// Links sorted by their transmitter's res-15 cell, with those cells.
    pub links: Vec<(u64, LinkEvidence)>,
    /// Receiver ids.
    pub receivers: Vec<String>,
    /// Existing sites.
    pub sites: Vec<Site>,
    /// Suggested sites.
    pub suggestions: Vec<Suggestion>,
    /// Radio assumptions for new sites.
    pub radio: Radio,
    /// Model for new sites.
    pub model: SiteModel,
    /// The elevation model.
    pub terrain: Option<Arc<dyn Terrain>>,
    /// Downloads.
    pub downloads: Vec<(String, PathBuf)>,
    /// West, south, east, north of the data.
    pub bounds: [f64; 4],
    /// Whether any link carries a time (staleness can be shown).
    pub has_times: bool,
    /// Whether any link is a recorded non-reception (no-signal can be shown).
    pub has_non_receptions: bool,
}

/// The resolutions hex layers are served at (and zoom → resolution).
pub const SERVED_RESOLUTIONS: std::ops::RangeInclusive<u8> = 6..=12;

/// [`SERVED_RESOLUTIONS`] as H3 resolutions: what the caller aggregates the
/// links at for [`StudyData::hexes`].
#[must_use]
pub fn map_resolutions() -> Vec<Resolution> {
    SERVED_RESOLUTIONS
        .filter_map(|r| Resolution::try_from(r).ok())
        .collect()
}

/// The hex resolution drawn at zoom `z` of 512-px tiles (MapLibre's vector
/// tile size): 15–50 px across a hex at mid latitudes.
#[must_use]
pub fn resolution_for_zoom(z: u8) -> u8 {
    RESOLUTION_BY_ZOOM
        .iter()
        .find(|&&(_, max_zoom, _)| z <= max_zoom)
        .map_or(*SERVED_RESOLUTIONS.end(), |&(_, _, res)| res)
}

/// (min zoom, max zoom, resolution) rows of [`resolution_for_zoom`].
pub const RESOLUTION_BY_ZOOM: [(u8, u8, u8); 7] = [
    (0, 8, 6),
    (9, 9, 7),
    (10, 11, 8),
    (12, 12, 9),
    (13, 14, 10),
    (15, 15, 11),
    (16, 24, 12),
];

/// The demand resolution of what-if and placement (res 9 ≈ 0.1 km²).
pub const DEMAND_RES: Resolution = Resolution::Nine;

/// An error building the study indexes.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StudyError(pub String);

impl Study {
    /// Index `data`.
    ///
    /// # Errors
    /// [`StudyError`] when coverage files mix resolutions or a link has no
    /// valid position.
    pub fn new(data: StudyData) -> Result<Self, StudyError> {
        let measured: BTreeMap<u8, HexIndex<HexStats>> = data
            .hexes
            .into_iter()
            .map(|(res, stats)| {
                let items = stats.into_iter().map(|h| (h.cell, h)).collect();
                (u8::from(res), HexIndex::new(items))
            })
            .collect();

        let mut links = Vec::with_capacity(data.links.len());
        for (i, link) in data.links.iter().enumerate() {
            let cell = LatLng::new(link.tx_lat, link.tx_lon)
                .map_err(|e| StudyError(format!("link {i}: transmitter position: {e}")))?
                .to_cell(Resolution::Fifteen);
            links.push((u64::from(cell), *link));
        }
        links.sort_by_key(|(cell, _)| *cell);

        let coverage_sites: Vec<String> = data.coverage.iter().map(|(id, _)| id.clone()).collect();
        let (coverage_res, predicted) = predicted_layers(&data.coverage)?;

        let devices: Vec<(f64, f64)> = data
            .links
            .iter()
            .filter(|l| l.heard && l.valid)
            .map(|l| (l.tx_lat, l.tx_lon))
            .collect();
        let mut demand = BTreeMap::new();
        let demand_max = coverage_res
            .unwrap_or(u8::from(DEMAND_RES))
            .max(u8::from(DEMAND_RES));
        if !devices.is_empty() {
            for res in 6..=demand_max {
                let Ok(resolution) = Resolution::try_from(res) else {
                    continue;
                };
                let cells = cells_in_hull(&devices, resolution)
                    .map_err(|e| StudyError(format!("demand cells at res {res}: {e}")))?;
                let p_at = |cell: CellIndex| {
                    predicted
                        .get(&res)
                        .and_then(|layer: &HexIndex<Predicted>| layer.get(cell))
                        .map_or(0.0, |p| p.p_covered)
                };
                let items = cells.into_iter().map(|c| (c, p_at(c))).collect();
                demand.insert(res, HexIndex::new(items));
            }
        }

        let mut bounds = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        let mut extend = |lon: f64, lat: f64| {
            bounds = [
                bounds[0].min(lon),
                bounds[1].min(lat),
                bounds[2].max(lon),
                bounds[3].max(lat),
            ];
        };
        for l in &data.links {
            extend(l.tx_lon, l.tx_lat);
        }
        for s in &data.sites {
            extend(s.lon, s.lat);
        }
        if bounds[0] > bounds[2] {
            bounds = [-180.0, -85.0, 180.0, 85.0];
        }
        Ok(Self {
            name: data.name,
            measured,
            predicted,
            demand,
            coverage_res,
            coverage_sites,
            has_times: data.links.iter().any(|l| l.time_unix_ms.is_some()),
            has_non_receptions: data.links.iter().any(|l| !l.heard),
            links,
            receivers: data.receivers,
            sites: data.sites,
            suggestions: data.suggestions,
            radio: data.radio,
            model: data.model,
            terrain: data.terrain,
            downloads: data.downloads,
            bounds,
        })
    }

    /// The links whose transmitter lies in `cell`.
    pub fn links_in(&self, cell: CellIndex) -> &[(u64, LinkEvidence)] {
        let (first, last) = descendant_range(cell);
        let start = self.links.partition_point(|(c, _)| *c < first);
        let end = self.links.partition_point(|(c, _)| *c <= last);
        &self.links[start..end]
    }

    /// The existing network's P(covered) of a demand cell at [`DEMAND_RES`]
    /// (0 where no loaded coverage reaches).
    pub fn p_existing(&self, cell: CellIndex) -> f64 {
        self.predicted
            .get(&u8::from(cell.resolution()))
            .and_then(|layer| layer.get(cell))
            .map_or(0.0, |p| p.p_covered)
    }
}

/// The first and last res-15 descendants of `cell` as integers: H3 orders
/// a cell's descendants contiguously at a fixed resolution (unused digits
/// 0..=6 under the parent's prefix).
fn descendant_range(cell: CellIndex) -> (u64, u64) {
    let res = u8::from(cell.resolution());
    let index = u64::from(cell);
    // Resolution field: bits 52..56; digit i (1-based) at bits 3·(15 − i).
    let mut first = (index & !(0xF << 52)) | (15 << 52);
    let mut last = first;
    for digit in (res + 1)..=15 {
        let shift = 3 * u32::from(15 - digit);
        first &= !(0b111 << shift);
        last = (last & !(0b111 << shift)) | (0b110 << shift);
    }
    (first, last)
}

type PredictedLayers = (Option<u8>, BTreeMap<u8, HexIndex<Predicted>>);

/// Combine per-site coverage into the network's P(covered) at the coverage
/// resolution, then into coarser resolutions (the mean over all children,
/// an unpredicted child counting 0: the expected covered share of the cell).
fn predicted_layers(
    coverage: &[(String, Vec<HexCoverage>)],
) -> Result<PredictedLayers, StudyError> {
    let mut res = None;
    // cell → (Π(1 − p), best rssi, interval, best site)
    let mut fine: HashMap<CellIndex, (f64, HexCoverage, u32)> = HashMap::new();
    for (site_index, (id, hexes)) in coverage.iter().enumerate() {
        for h in hexes {
            let r = u8::from(h.cell.resolution());
            match res {
                None => res = Some(r),
                Some(first) if first != r => {
                    return Err(StudyError(format!(
                        "coverage of `{id}` is at res {r} but earlier coverage at res {first}: load one resolution"
                    )));
                }
                Some(_) => {}
            }
            #[allow(clippy::cast_possible_truncation)]
            let site = site_index as u32;
            let entry = fine.entry(h.cell).or_insert((1.0, *h, site));
            entry.0 *= 1.0 - h.p_covered.clamp(0.0, 1.0);
            if h.rssi_pred_dbm > entry.1.rssi_pred_dbm {
                entry.1 = *h;
                entry.2 = site;
            }
        }
    }
    let mut layers = BTreeMap::new();
    let Some(res) = res else {
        return Ok((None, layers));
    };
    let mut fine_items: Vec<(CellIndex, Predicted)> = fine
        .into_iter()
        .map(|(cell, (q, best, site))| {
            (
                cell,
                Predicted {
                    p_covered: 1.0 - q,
                    rssi_pred_dbm: best.rssi_pred_dbm,
                    interval_dbm: Some((best.rssi_p10_dbm, best.rssi_p90_dbm)),
                    best_site: Some(site),
                },
            )
        })
        .collect();
    // Sums in cell order, so the coarser values do not depend on hash order.
    fine_items.sort_by_key(|(cell, _)| *cell);
    for coarse in (*SERVED_RESOLUTIONS.start()..res).rev() {
        let Ok(parent_res) = Resolution::try_from(coarse) else {
            continue;
        };
        let children = 7f64.powi(i32::from(res - coarse));
        // parent → (Σ p, Σ rssi, n)
        let mut sums: HashMap<CellIndex, (f64, f64, u32)> = HashMap::new();
        for (cell, p) in &fine_items {
            if let Some(parent) = cell.parent(parent_res) {
                let s = sums.entry(parent).or_insert((0.0, 0.0, 0));
                s.0 += p.p_covered;
                s.1 += p.rssi_pred_dbm;
                s.2 += 1;
            }
        }
        let items = sums
            .into_iter()
            .map(|(cell, (p, rssi, n))| {
                (
                    cell,
                    Predicted {
                        p_covered: (p / children).min(1.0),
                        rssi_pred_dbm: rssi / f64::from(n),
                        interval_dbm: None,
                        best_site: None,
                    },
                )
            })
            .collect();
        layers.insert(coarse, HexIndex::new(items));
    }
    layers.insert(res, HexIndex::new(fine_items));
    Ok((Some(res), layers))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn descendant_range_holds_exactly_the_descendants() {
        let cell = LatLng::new(48.3985, 9.9918)
            .unwrap()
            .to_cell(Resolution::Nine);
        let (first, last) = descendant_range(cell);
        let children: Vec<u64> = cell.children(Resolution::Fifteen).map(u64::from).collect();
        assert_eq!(children.len(), 7usize.pow(6));
        assert_eq!(*children.iter().min().unwrap(), first);
        assert_eq!(*children.iter().max().unwrap(), last);
        // A neighbour's descendants fall outside.
        for n in cell.grid_disk::<Vec<_>>(1) {
            if n == cell {
                continue;
            }
            let c = u64::from(n.center_child(Resolution::Fifteen).unwrap());
            assert!(c < first || c > last);
        }
    }

    #[test]
    fn coarser_predictions_are_the_mean_over_all_children() {
        let parent = LatLng::new(48.3985, 9.9918)
            .unwrap()
            .to_cell(Resolution::Nine);
        let mut children = parent.children(Resolution::Ten);
        let a = children.next().unwrap();
        let b = children.next().unwrap();
        let hex = |cell, p, rssi| HexCoverage {
            cell,
            distance_m: 10.0,
            rssi_pred_dbm: rssi,
            rssi_p10_dbm: rssi - 8.0,
            rssi_p90_dbm: rssi + 8.0,
            p_covered: p,
        };
        // Two sites over cell a (0.5 each → 0.75), one over b (0.25).
        let coverage = vec![
            (
                "s1".to_owned(),
                vec![hex(a, 0.5, -120.0), hex(b, 0.25, -128.0)],
            ),
            ("s2".to_owned(), vec![hex(a, 0.5, -110.0)]),
        ];
        let (res, layers) = predicted_layers(&coverage).unwrap();
        assert_eq!(res, Some(10));
        let fine = &layers[&10];
        let pa = fine.get(a).unwrap();
        assert!((pa.p_covered - 0.75).abs() < 1e-12);
        assert_eq!(pa.best_site, Some(1), "the stronger site is s2");
        let coarse = layers[&9].get(parent).unwrap();
        assert!((coarse.p_covered - (0.75 + 0.25) / 7.0).abs() < 1e-12);
        assert!((coarse.rssi_pred_dbm - (-110.0 - 128.0) / 2.0).abs() < 1e-12);
        assert!(
            layers[&6]
                .get(parent.parent(Resolution::Six).unwrap())
                .is_some()
        );
    }
}
