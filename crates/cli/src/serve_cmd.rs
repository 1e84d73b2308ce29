//! `hexcover serve STUDY_DIR`: load a study (links, sites, per-site
//! coverage, suggestions, model, terrain) and serve it with
//! `hexcover-server` until Ctrl-C.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hexcover_export::{read_coverage_geoparquet, read_sites_geoparquet};
use hexcover_ingest::aggregate;
use hexcover_server::{
    AppState, LinkEvidence, Radio, ServerConfig, SiteModel, Study, StudyData, Suggestion, router,
};

use crate::args::ServeArgs;

pub fn run(args: &ServeArgs) -> Result<()> {
    let started = Instant::now();
    let config = config(args)?;
    let data = load_study(&args.study, args.dem.as_deref(), args.model.as_deref())?;
    let study = Study::new(data).context("indexing the study")?;
    if !args.quiet {
        eprintln!(
            "loaded {} in {:.1} s: {} links, {} sites, coverage of {} sites, {} suggestions{}",
            args.study.display(),
            started.elapsed().as_secs_f64(),
            study.links.len(),
            study.sites.len(),
            study.coverage_sites.len(),
            study.suggestions.len(),
            if study.terrain.is_none() {
                "; no --dem: what-if and placement are off"
            } else {
                ""
            }
        );
    }
    let web = config.web_dir.clone();
    let app = router(AppState::new(study, config));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let address = format!("{}:{}", args.host, args.port);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        // Always printed: `make demo` and scripts read the address from
        // here. A reader that stops reading (a closed pipe) must not stop
        // the server, so write errors are ignored rather than panicking
        // as println! would.
        let page = match &web {
            Some(dir) => format!("web page from {}", dir.display()),
            None => "no web page (API only)".to_owned(),
        };
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "hexcover: serving {} at http://{bound}/\nhexcover: {page}",
            args.study.display()
        )
        .and_then(|()| out.flush());
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving")
    })
}

/// The flags that shape what the map shows, for `serve` and `export --pmtiles`.
pub fn check_map_options(gap_threshold: f64, stale_after_days: f64) -> Result<()> {
    if !(gap_threshold > 0.0 && gap_threshold < 1.0) {
        bail!("--gap-threshold = {gap_threshold}: expected a probability between 0 and 1");
    }
    if !(stale_after_days.is_finite() && stale_after_days > 0.0) {
        bail!("--stale-after-days = {stale_after_days}: expected more than 0");
    }
    Ok(())
}

fn config(args: &ServeArgs) -> Result<ServerConfig> {
    check_map_options(args.gap_threshold, args.stale_after_days)?;
    if !(args.whatif_radius_km > 0.0 && args.whatif_radius_km <= 50.0) {
        bail!(
            "--whatif-radius-km = {}: expected more than 0 and at most 50",
            args.whatif_radius_km
        );
    }
    let web_dir = if args.no_web {
        None
    } else {
        match &args.web {
            Some(dir) if dir.join("index.html").is_file() => Some(dir.clone()),
            Some(dir) => bail!(
                "--web {}: no index.html there; build the page with `make web-build`",
                dir.display()
            ),
            None => Some(PathBuf::from("web/dist")).filter(|d| d.join("index.html").is_file()),
        }
    };
    let now_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Ok(ServerConfig {
        web_dir,
        token: args.token.clone().filter(|t| !t.is_empty()),
        gap_threshold: args.gap_threshold,
        stale_after_days: args.stale_after_days,
        now_unix_ms,
        whatif_radius_m: args.whatif_radius_km * 1000.0,
        basemap: args.basemap_style.clone(),
        ..ServerConfig::default()
    })
}

/// Read everything the server shows from the study directory `dir`: its
/// links (aggregated at every map resolution), sites, per-site coverage,
/// suggestions, the model (`model`, else `dir/model.json` when present, else
/// the physics baseline) and the terrain (`dem`, optional).
pub fn load_study(dir: &Path, dem: Option<&Path>, model: Option<&Path>) -> Result<StudyData> {
    let links = crate::export_cmd::read_study_links(dir)?;
    let map_resolutions = hexcover_server::map_resolutions();
    let hexes = aggregate(&links, &map_resolutions)?;

    let mut receivers: Vec<String> = Vec::new();
    let mut receiver_index: HashMap<String, u32> = HashMap::new();
    let mut evidence = Vec::with_capacity(links.len());
    for i in 0..links.len() {
        let link = links.get(i);
        let id = crate::links_input::receiver_id(&link);
        let next = u32::try_from(receivers.len()).context("more than 4 billion receivers")?;
        let rx = *receiver_index.entry(id.clone()).or_insert_with(|| {
            receivers.push(id);
            next
        });
        evidence.push(LinkEvidence {
            tx_lat: link.tx_lat,
            tx_lon: link.tx_lon,
            rx: Some(rx),
            rssi_dbm: link.rssi_dbm.filter(|v| v.is_finite()),
            heard: link.heard,
            valid: link.valid,
            time_unix_ms: link.time_unix_ms,
        });
    }

    let sites_path = dir.join("sites.parquet");
    let sites = if sites_path.exists() {
        read_sites_geoparquet(&sites_path)?
    } else {
        Vec::new()
    };
    let coverage = read_coverage_dir(&dir.join("coverage"))?;
    let suggestions = read_suggestions(&dir.join("suggested.csv"))?;

    let model_path = model
        .map(Path::to_path_buf)
        .or_else(|| Some(dir.join("model.json")).filter(|p| p.exists()));
    let (model, radio) = match &model_path {
        Some(path) => {
            let model = crate::links_input::load_model(path)?;
            let trained = crate::links_input::Radio::from_metadata(&model.metadata)
                .unwrap_or(crate::links_input::Radio::DEFAULT);
            let radio = Radio {
                device_height_agl_m: trained.device_height_m,
                freq_mhz: trained.freq_mhz,
                sample_step_m: trained.profile_step_m,
                ..Radio::default()
            };
            (SiteModel::Learned(Arc::new(model)), radio)
        }
        None => (SiteModel::Physics(Default::default()), Radio::default()),
    };
    let terrain: Option<Arc<dyn hexcover_core::Terrain>> = match dem {
        Some(path) => Some(Arc::new(crate::links_input::open_dem(path)?)),
        None => None,
    };

    let mut downloads = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let offered = [".parquet", ".geojson", ".csv"]
            .iter()
            .any(|ext| name.ends_with(ext))
            && !name.contains("rejects");
        if offered && path.is_file() {
            downloads.push((name, path));
        }
    }
    downloads.sort();

    Ok(StudyData {
        name: dir.display().to_string(),
        hexes: map_resolutions.into_iter().zip(hexes).collect(),
        links: evidence,
        receivers,
        sites,
        coverage,
        suggestions,
        radio,
        model,
        terrain,
        downloads,
    })
}

/// The `*.parquet` files of a study's `coverage/` folder, sorted (none when
/// the folder is missing).
pub fn coverage_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Every `coverage/<site id>.parquet` (the demo writes one per gateway).
fn read_coverage_dir(dir: &Path) -> Result<Vec<(String, Vec<hexcover_core::HexCoverage>)>> {
    coverage_files(dir)?
        .iter()
        .map(|path| {
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            Ok((id, read_coverage_geoparquet(path)?))
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct SuggestionRow {
    id: String,
    rank: u32,
    lat: f64,
    lon: f64,
    height_agl_m: f64,
    marginal_gain: f64,
    demand_added: u64,
    reward_scale: f64,
    #[serde(default)]
    bound_by: String,
}

/// The study's `suggested.csv` (written by `hexcover optimize --study`).
fn read_suggestions(path: &Path) -> Result<Vec<Suggestion>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    reader
        .deserialize::<SuggestionRow>()
        .enumerate()
        .map(|(i, row)| {
            let r = row.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
            Ok(Suggestion {
                id: r.id,
                rank: r.rank,
                lat: r.lat,
                lon: r.lon,
                height_agl_m: r.height_agl_m,
                marginal_gain: r.marginal_gain,
                demand_added: r.demand_added,
                reward_scale: r.reward_scale,
                bound_by: r.bound_by,
            })
        })
        .collect()
}
