//! End-to-end ingest (CSV → validate → H3 → aggregate → GeoParquet), hexcover
//! beside the same pipeline in Python polars + polars-h3, in one group per
//! input so criterion reports them side by side.
//!
//! Inputs come from `benches/run.sh` (`make bench`):
//! - `HEXCOVER_BENCH_ULM_LINKS`: the Ulm drive test's 35,120 accepted links in
//!   the link-table CSV layout (real data),
//! - `HEXCOVER_BENCH_SYNTH_LINKS`: a 10-million-row SYNTHETIC link table,
//! - `HEXCOVER_BENCH_PYTHON`: the Python that has polars and polars-h3.

// A benchmark whose input fails is broken: panicking with the reason is right here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hexcover_benches::{
    hexcover_pipeline, hexcover_streaming_pipeline, input_from_env, python_pipeline,
};

fn ingest_end_to_end(c: &mut Criterion) {
    let python = std::env::var_os("HEXCOVER_BENCH_PYTHON").map(std::path::PathBuf::from);
    let out = tempfile::tempdir().expect("temp dir");
    let inputs = [
        ("ulm-35k-real", "HEXCOVER_BENCH_ULM_LINKS", 20, 5),
        ("synthetic-10m", "HEXCOVER_BENCH_SYNTH_LINKS", 10, 60),
    ];
    for (name, var, samples, seconds) in inputs {
        let Some(input) = input_from_env(var) else {
            eprintln!("skipping {name}: set {var} (make bench does)");
            continue;
        };
        let counts = hexcover_pipeline(&input, out.path(), h3o::Resolution::Nine);
        let mut group = c.benchmark_group(format!("ingest_end_to_end/{name}"));
        group.sample_size(samples);
        group.measurement_time(Duration::from_secs(seconds));
        group.throughput(Throughput::Elements(counts.rows_read));
        let streamed = hexcover_streaming_pipeline(&input, out.path(), h3o::Resolution::Nine);
        assert_eq!(
            streamed, counts,
            "both paths account for the same rows and hexes"
        );
        // What `hexcover ingest` runs on a link table.
        group.bench_function(BenchmarkId::new("hexcover", counts.rows_read), |b| {
            b.iter(|| hexcover_streaming_pipeline(&input, out.path(), h3o::Resolution::Nine));
        });
        group.bench_function(
            BenchmarkId::new("hexcover-in-memory", counts.rows_read),
            |b| {
                b.iter(|| hexcover_pipeline(&input, out.path(), h3o::Resolution::Nine));
            },
        );
        if let Some(python) = &python {
            let py_out = out.path().join("python");
            group.bench_function(
                BenchmarkId::new("python-polars-h3", counts.rows_read),
                |b| {
                    b.iter_custom(|iters| python_pipeline(python, &input, &py_out, iters));
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, ingest_end_to_end);
criterion_main!(benches);
