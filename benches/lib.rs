//! Shared helpers of hexcover's criterion benchmarks: each stage is measured
//! beside its baseline in the same run (see BENCHMARKS.md).

// A benchmark whose input fails is broken: panicking with the reason is right here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hexcover_ingest::{
    IngestOptions, LinkSink, NoProgress, RejectsCsvWriter, SinkError, StreamOptions, aggregate,
    ingest, ingest_streaming,
};

/// What one run of the end-to-end ingest produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineCounts {
    /// Rows read.
    pub rows_read: u64,
    /// Links accepted.
    pub accepted: u64,
    /// Hexes written.
    pub hexes: usize,
}

/// hexcover's end-to-end ingest in memory (as `hexcover ingest` runs the
/// other formats, or link tables with `HEXCOVER_INGEST=memory`): CSV →
/// validate → H3 → aggregate → `rejects.csv`, `links.parquet`, GeoParquet
/// hexes at `res`.
///
/// # Panics
/// On any error: a benchmark input that fails is a broken benchmark.
#[must_use]
pub fn hexcover_pipeline(input: &Path, out: &Path, res: h3o::Resolution) -> PipelineCounts {
    std::fs::create_dir_all(out).expect("create output dir");
    let ingested = ingest(
        &[input.to_path_buf()],
        &IngestOptions::default(),
        &NoProgress,
    )
    .expect("ingest");
    // As `hexcover ingest` does: the links are written while they are
    // aggregated, side by side on the cores.
    let ((), hexes) = rayon::join(
        || {
            hexcover_ingest::write_rejects_csv(&out.join("rejects.csv"), &ingested.rejects)
                .expect("rejects");
            hexcover_export::write_links_parquet(&out.join("links.parquet"), &ingested.links)
                .expect("links");
        },
        || aggregate(&ingested.links, &[res]).expect("aggregate"),
    );
    let name = format!("hexes_res{}.parquet", u8::from(res));
    hexcover_export::write_hexes_geoparquet(&out.join(name), &hexes[0]).expect("hexes");
    PipelineCounts {
        rows_read: ingested.summary.rows_read,
        accepted: ingested.summary.accepted,
        hexes: hexes[0].len(),
    }
}

/// hexcover's end-to-end ingest as `hexcover ingest` runs a link table
/// (CSV or Parquet): streamed in chunks, `links.parquet` and `rejects.csv`
/// written as they come, hexes aggregated through spill files in `out`,
/// then the GeoParquet hexes at `res`.
///
/// # Panics
/// On any error: a benchmark input that fails is a broken benchmark.
#[must_use]
pub fn hexcover_streaming_pipeline(
    input: &Path,
    out: &Path,
    res: h3o::Resolution,
) -> PipelineCounts {
    /// The study files the CLI's streaming sink writes.
    struct Files {
        links_path: PathBuf,
        links: Option<hexcover_export::LinksParquetWriter>,
        rejects: RejectsCsvWriter,
    }
    impl LinkSink for Files {
        fn start(&mut self, inputs: &[String]) -> Result<(), SinkError> {
            self.links = Some(hexcover_export::LinksParquetWriter::create(
                &self.links_path,
                inputs,
            )?);
            Ok(())
        }
        fn links(&mut self, links: &hexcover_core::LinkTable) -> Result<(), SinkError> {
            Ok(self.links.as_mut().expect("started").write(links)?)
        }
        fn rejects(&mut self, rejects: &[hexcover_ingest::Reject]) -> Result<(), SinkError> {
            Ok(self.rejects.write(rejects)?)
        }
    }
    std::fs::create_dir_all(out).expect("create output dir");
    let mut files = Files {
        links_path: out.join("links.parquet"),
        links: None,
        rejects: RejectsCsvWriter::create(&out.join("rejects.csv")).expect("rejects"),
    };
    let streamed = ingest_streaming(
        &[input.to_path_buf()],
        &IngestOptions::default(),
        &[res],
        &StreamOptions::new(out),
        &mut files,
        &NoProgress,
    )
    .expect("ingest");
    files.rejects.finish().expect("rejects");
    files.links.expect("started").finish().expect("links");
    let name = format!("hexes_res{}.parquet", u8::from(res));
    hexcover_export::write_hexes_geoparquet(&out.join(name), &streamed.hexes[0]).expect("hexes");
    PipelineCounts {
        rows_read: streamed.summary.rows_read,
        accepted: streamed.summary.accepted,
        hexes: streamed.hexes[0].len(),
    }
}

/// The Python baseline (polars + polars-h3), run `iters` times in one
/// interpreter; returns the pipeline time it measured itself (interpreter
/// start and imports excluded, as criterion excludes process start for us).
///
/// # Panics
/// When the baseline fails or prints no timing.
#[must_use]
pub fn python_pipeline(python: &Path, input: &Path, out: &Path, iters: u64) -> Duration {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/ingest_baseline.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(input)
        .arg(out)
        .arg("--repeat")
        .arg(iters.to_string())
        .output()
        .expect("run the Python baseline");
    assert!(
        output.status.success(),
        "baseline failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains("seconds_total"))
        .expect("timing line");
    let value: serde_json::Value = serde_json::from_str(line).expect("timing JSON");
    Duration::from_secs_f64(value["seconds_total"].as_f64().expect("seconds_total"))
}

/// A benchmark input named by an environment variable, if it exists.
#[must_use]
pub fn input_from_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.exists())
}

/// (lat, lon) of gateway `id` in the real Ulm gateway list
/// (`data/ulm-ttn-2021/gateways.csv` under `shared`), the sites the coverage
/// and what-if benchmarks run at.
///
/// # Panics
/// When the list cannot be read or does not hold `id`.
#[must_use]
pub fn ulm_gateway_position(shared: &Path, id: &str) -> (f64, f64) {
    let text = std::fs::read_to_string(shared.join("data/ulm-ttn-2021/gateways.csv"))
        .expect("read gateways.csv");
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{id},")))
        .expect("gateway in the list");
    let mut fields = line.splitn(4, ',');
    let _ = fields.next();
    let lat: f64 = fields.next().unwrap().parse().unwrap();
    let lon: f64 = fields.next().unwrap().parse().unwrap();
    (lat, lon)
}
