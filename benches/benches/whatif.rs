//! `POST /api/v1/whatif` on the real Ulm study: what one new receiver with a
//! 20 km radius adds (coverage at the demand resolution, res 9, with the
//! study's learned model at the step it was trained with, against the
//! existing network's predicted coverage), answered by `hexcover-server`'s
//! router.
//!
//! - `in-process/<site>`: `router(state).oneshot(request)`, the JSON answer
//!   read to the end (no socket);
//! - `loopback-http/<site>`: the same router behind `axum::serve` on
//!   127.0.0.1, one HTTP/1.1 request per answer over a new connection.
//!
//! The state is built as `hexcover serve STUDY --dem DEM` builds it (the
//! CLI's `load_study`, replicated with the library crates since a bench
//! cannot depend on the binary): links aggregated at res 6–12, sites,
//! every `coverage/*.parquet`, `suggested.csv`, the model and the DEM.
//!
//! Inputs (environment):
//! - `HEXCOVER_BENCH_STUDY`: the study directory (default `out/ulm`, what
//!   `make demo` writes; `benches/run.sh` passes it);
//! - `HEXCOVER_BENCH_MODEL`: the learned model (default `STUDY/model.json`);
//! - `HEXCOVER_SHARED`: the shared data (`data/srtm3-ulm`, `data/ulm-ttn-2021/gateways.csv`).

// A benchmark whose input fails is broken: panicking with the reason is right here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use hexcover_ingest::{Format, IngestOptions, NoProgress, aggregate, ingest};
use hexcover_propagation::LearnedModel;
use hexcover_server::{
    AppState, LinkEvidence, Radio, ServerConfig, SiteModel, Study, StudyData, Suggestion, router,
};
use hexcover_terrain::Dem;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The what-if sites: real places with different horizons (the positions of
/// three Ulm gateways from `ulm-ttn-2021/gateways.csv`, as in the coverage
/// bench: city centre, the Eselsberg hill, a high-rise in Böfingen).
const SITES: [(&str, &str); 3] = [
    ("minster", "eui-0000024b080e0d75"),
    ("uni-eselsberg", "eui-0000024b0b0301e0"),
    ("boefingen", "eui-647fdafffe00a739"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shared_dir() -> PathBuf {
    std::env::var_os("HEXCOVER_SHARED").map_or_else(|| root().join("../shared"), PathBuf::from)
}

/// (name, lat, lon) of the what-if sites, from the real gateway list.
fn sites(shared: &Path) -> Vec<(&'static str, f64, f64)> {
    SITES
        .iter()
        .map(|&(name, id)| {
            let (lat, lon) = hexcover_benches::ulm_gateway_position(shared, id);
            (name, lat, lon)
        })
        .collect()
}

/// What `hexcover serve STUDY --dem DEM --model MODEL` loads (the CLI's
/// `serve_cmd::load_study`, less the downloads list).
fn load_study(dir: &Path, dem: &Path, model_path: &Path) -> StudyData {
    let options = IngestOptions {
        format: Some(Format::LinksParquet),
        find_duplicates: false,
        ..IngestOptions::default()
    };
    let links = ingest(&[dir.join("links.parquet")], &options, &NoProgress)
        .expect("read links.parquet")
        .links;
    let map_resolutions = hexcover_server::map_resolutions();
    let hexes = aggregate(&links, &map_resolutions).expect("aggregate");
    let mut receivers: Vec<String> = Vec::new();
    let mut receiver_index: HashMap<String, u32> = HashMap::new();
    let evidence = (0..links.len())
        .map(|i| {
            let link = links.get(i);
            let id = link
                .rx_id
                .clone()
                .unwrap_or_else(|| format!("rx@{:.6},{:.6}", link.rx_lat, link.rx_lon));
            let next = u32::try_from(receivers.len()).unwrap();
            let rx = *receiver_index.entry(id.clone()).or_insert_with(|| {
                receivers.push(id);
                next
            });
            LinkEvidence {
                tx_lat: link.tx_lat,
                tx_lon: link.tx_lon,
                rx: Some(rx),
                rssi_dbm: link.rssi_dbm.filter(|v| v.is_finite()),
                heard: link.heard,
                valid: link.valid,
                time_unix_ms: link.time_unix_ms,
            }
        })
        .collect();
    let sites = hexcover_export::read_sites_geoparquet(&dir.join("sites.parquet"))
        .expect("read sites.parquet");
    let mut coverage_files: Vec<PathBuf> = std::fs::read_dir(dir.join("coverage"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                .collect()
        })
        .unwrap_or_default();
    coverage_files.sort();
    let coverage = coverage_files
        .iter()
        .map(|p| {
            let id = p.file_stem().unwrap().to_string_lossy().into_owned();
            (
                id,
                hexcover_export::read_coverage_geoparquet(p).expect("read coverage"),
            )
        })
        .collect();
    let text = std::fs::read_to_string(model_path).expect("read the model");
    let model: LearnedModel = serde_json::from_str(&text).expect("parse the model");
    model.check().expect("a valid model");
    let get = |k: &str| model.metadata.get(k).and_then(|v| v.parse::<f64>().ok());
    let radio = Radio {
        device_height_agl_m: get("device_height_m").unwrap_or(1.5),
        freq_mhz: get("freq_mhz").unwrap_or(868.3),
        sample_step_m: get("profile_step_m")
            .unwrap_or(hexcover_propagation::DEFAULT_PROFILE_STEP_M),
        ..Radio::default()
    };
    let terrain: Arc<dyn hexcover_core::Terrain> = Arc::new(Dem::open(dem).expect("open the DEM"));
    StudyData {
        name: dir.display().to_string(),
        hexes: map_resolutions.into_iter().zip(hexes).collect(),
        links: evidence,
        receivers,
        sites,
        coverage,
        suggestions: read_suggestions(&dir.join("suggested.csv")),
        radio,
        model: SiteModel::Learned(Arc::new(model)),
        terrain: Some(terrain),
        downloads: Vec::new(),
    }
}

/// `suggested.csv` (plain comma-separated numbers and ids, no quoting).
fn read_suggestions(path: &Path) -> Vec<Suggestion> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| {
        head.iter()
            .position(|h| *h == name)
            .expect("suggested.csv column")
    };
    let (id, rank, lat, lon, h, gain, added, scale) = (
        col("id"),
        col("rank"),
        col("lat"),
        col("lon"),
        col("height_agl_m"),
        col("marginal_gain"),
        col("demand_added"),
        col("reward_scale"),
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Suggestion {
                id: f[id].to_owned(),
                rank: f[rank].parse().unwrap(),
                lat: f[lat].parse().unwrap(),
                lon: f[lon].parse().unwrap(),
                height_agl_m: f[h].parse().unwrap(),
                marginal_gain: f[gain].parse().unwrap(),
                demand_added: f[added].parse().unwrap(),
                reward_scale: f[scale].parse().unwrap(),
                bound_by: String::new(),
            }
        })
        .collect()
}

fn body(lat: f64, lon: f64) -> String {
    format!(r#"{{"site":{{"lat":{lat},"lon":{lon}}}}}"#)
}

fn request(lat: f64, lon: f64) -> Request<Body> {
    Request::post("/api/v1/whatif")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body(lat, lon)))
        .unwrap()
}

/// One answer in-process: status and JSON.
async fn answer(app: &axum::Router, lat: f64, lon: f64) -> serde_json::Value {
    let response = app.clone().oneshot(request(lat, lon)).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap()
}

/// One answer over HTTP/1.1 on a new loopback connection: the body's length.
fn answer_http(address: std::net::SocketAddr, lat: f64, lon: f64) -> usize {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let body = body(lat, lon);
    write!(
        stream,
        "POST /api/v1/whatif HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response[..response.len().min(300)])
    );
    response.len()
}

fn whatif(c: &mut Criterion) {
    let shared = shared_dir();
    let dem = shared.join("data/srtm3-ulm");
    let study_dir = std::env::var_os("HEXCOVER_BENCH_STUDY")
        .map_or_else(|| root().join("out/ulm"), PathBuf::from);
    let model = std::env::var_os("HEXCOVER_BENCH_MODEL")
        .map_or_else(|| study_dir.join("model.json"), PathBuf::from);
    if !study_dir.join("links.parquet").exists() || !model.exists() || !dem.exists() {
        eprintln!(
            "skipping the what-if bench: needs {}/links.parquet (make demo), the model {} and {}",
            study_dir.display(),
            model.display(),
            dem.display()
        );
        return;
    }
    let started = Instant::now();
    let data = load_study(&study_dir, &dem, &model);
    let study = Study::new(data).expect("index the study");
    eprintln!(
        "study {}: {} links, {} sites, coverage of {} sites (res {:?}), {} suggestions, model {}; loaded in {:.1} s",
        study_dir.display(),
        study.links.len(),
        study.sites.len(),
        study.coverage_sites.len(),
        study.coverage_res,
        study.suggestions.len(),
        study.model.name(),
        started.elapsed().as_secs_f64()
    );
    let state = AppState::new(study, ServerConfig::default());
    let app = router(state);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sites = sites(&shared);

    // One answer per site first: the first touches the DEM windows (cold).
    for &(name, lat, lon) in &sites {
        let t = Instant::now();
        let a = runtime.block_on(answer(&app, lat, lon));
        eprintln!(
            "{name}: first answer {:.1} ms (server-side {:.1} ms): res {}, radius {} m, demand_added {:.2}, \
             hexes_added {}, demand_hexes_added {}, hexes_covered {}, reward_scale {}, {} violations, {} KB JSON",
            t.elapsed().as_secs_f64() * 1e3,
            a["elapsed_ms"].as_f64().unwrap(),
            a["res"],
            a["radius_m"],
            a["demand_added"].as_f64().unwrap(),
            a["hexes_added"],
            a["demand_hexes_added"],
            a["hexes_covered"],
            a["reward_scale"],
            a["violations"].as_array().unwrap().len(),
            a.to_string().len() / 1024
        );
    }

    let mut group = c.benchmark_group("whatif-20km");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    for &(name, lat, lon) in &sites {
        group.bench_with_input(
            BenchmarkId::new("in-process", name),
            &(lat, lon),
            |b, &(lat, lon)| {
                b.iter(|| runtime.block_on(answer(&app, lat, lon)));
            },
        );
    }

    // The same router behind a loopback socket.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let served = app.clone();
    runtime.spawn(async move { axum::serve(listener, served).await });
    for &(name, lat, lon) in &sites {
        group.bench_with_input(
            BenchmarkId::new("loopback-http", name),
            &(lat, lon),
            |b, &(lat, lon)| {
                b.iter(|| answer_http(address, lat, lon));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, whatif);
criterion_main!(benches);
