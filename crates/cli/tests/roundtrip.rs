//! links.parquet read back through ingest gives the same links and hexes.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hexcover_ingest::{Format, IngestOptions, NoProgress, aggregate, ingest};

fn ulm(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/ulm-ttn-2021")
        .join(file)
}

#[test]
fn links_parquet_round_trips() {
    let options = IngestOptions {
        gateways: Some(ulm("gateways.csv")),
        ..IngestOptions::default()
    };
    let first = ingest(&[ulm("measurements.csv")], &options, &NoProgress).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("links.parquet");
    hexcover_export::write_links_parquet(&path, &first.links).unwrap();

    let options = IngestOptions {
        format: Some(Format::LinksParquet),
        ..IngestOptions::default()
    };
    let again = ingest(&[path], &options, &NoProgress).unwrap();
    assert_eq!(again.summary.rows_read, first.links.len() as u64);
    assert_eq!(again.summary.rejected, 0);
    for i in 0..first.links.len() {
        assert_eq!(again.links.get(i), first.links.get(i), "link {i}");
    }
    let res = [h3o::Resolution::Nine];
    assert_eq!(
        aggregate(&again.links, &res).unwrap(),
        aggregate(&first.links, &res).unwrap()
    );
}
