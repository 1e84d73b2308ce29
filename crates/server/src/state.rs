//! The server's shared state: the study, the configuration, the tile cache,
//! the limit on heavy requests and the placement jobs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::placement::Jobs;
use crate::study::Study;

/// How the server behaves; [`ServerConfig::default`] is what `hexcover
/// serve` uses without flags.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where the built web page is (`web/dist`); `None` serves the API only.
    pub web_dir: Option<PathBuf>,
    /// Bearer token `POST` requests must carry, when set.
    pub token: Option<String>,
    /// P(covered) below which a demand hex is a gap.
    pub gap_threshold: f64,
    /// Measured hexes last heard longer ago than this are stale, days.
    pub stale_after_days: f64,
    /// "Now" for staleness, ms since the Unix epoch (the clock at start).
    pub now_unix_ms: i64,
    /// Largest request body, bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// What-if and placement jobs that may run at once.
    pub max_heavy_requests: usize,
    /// What-if coverage radius, m.
    pub whatif_radius_m: f64,
    /// Largest placement region, km².
    pub max_region_km2: f64,
    /// Most sites one placement may ask for.
    pub max_placement_sites: usize,
    /// Most candidate sites one placement may evaluate.
    pub max_candidates: usize,
    /// An online basemap style URL, when configured.
    pub basemap: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            web_dir: None,
            token: None,
            gap_threshold: 0.5,
            stale_after_days: 365.0,
            now_unix_ms: 0,
            body_limit_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            max_heavy_requests: 2,
            whatif_radius_m: 20_000.0,
            max_region_km2: 1_000.0,
            max_placement_sites: 25,
            max_candidates: 400,
            basemap: None,
        }
    }
}

/// Encoded tiles by (layer, z, x, y); cleared when it grows past its cap.
#[derive(Default)]
pub struct TileCache {
    tiles: Mutex<HashMap<(u8, u8, u32, u32), axum::body::Bytes>>,
}

/// Entries the tile cache holds before it starts over (a few hundred MB at most).
const TILE_CACHE_CAP: usize = 50_000;

impl TileCache {
    /// A cached tile.
    pub fn get(&self, key: (u8, u8, u32, u32)) -> Option<axum::body::Bytes> {
        self.tiles.lock().ok()?.get(&key).cloned()
    }

    /// Remember a tile.
    pub fn put(&self, key: (u8, u8, u32, u32), tile: axum::body::Bytes) {
        if let Ok(mut tiles) = self.tiles.lock() {
            if tiles.len() >= TILE_CACHE_CAP {
                tiles.clear();
            }
            tiles.insert(key, tile);
        }
    }
}

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    /// The study.
    pub study: Arc<Study>,
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// Encoded tiles.
    pub tiles: Arc<TileCache>,
    /// Permits for heavy requests.
    pub heavy: Arc<Semaphore>,
    /// Placement jobs.
    pub jobs: Arc<Jobs>,
}

impl AppState {
    /// State over `study` with `config`.
    #[must_use]
    pub fn new(study: Study, config: ServerConfig) -> Self {
        let permits = config.max_heavy_requests.max(1);
        Self {
            study: Arc::new(study),
            config: Arc::new(config),
            tiles: Arc::new(TileCache::default()),
            heavy: Arc::new(Semaphore::new(permits)),
            jobs: Arc::new(Jobs::default()),
        }
    }
}
