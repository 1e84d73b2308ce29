//! Ingest of every real sample in ../shared/data: the accounting holds and
//! the counts are the ones the data's README documents.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hexcover_ingest::{DevicePositions, IngestOptions, Ingested, NoProgress, ingest};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

fn run(inputs: &[&str], options: IngestOptions) -> Ingested {
    let inputs: Vec<PathBuf> = inputs.iter().map(|p| shared(p)).collect();
    let out = ingest(&inputs, &options, &NoProgress).expect("ingest");
    let s = &out.summary;
    assert_eq!(
        s.accepted + s.rejected,
        s.rows_read,
        "accounting of {inputs:?}"
    );
    assert!(s.balanced);
    assert_eq!(
        out.rejects.len() as u64,
        s.rejected + s.gateways.as_ref().map_or(0, |g| g.rejected)
    );
    for input in &s.inputs {
        assert!(input.balanced(), "{input:?}");
    }
    out
}

fn ulm_options(parallel: bool) -> IngestOptions {
    IngestOptions {
        gateways: Some(shared("ulm-ttn-2021/gateways.csv")),
        parallel,
        ..IngestOptions::default()
    }
}

#[test]
fn ulm_drive_test() {
    let out = run(&["ulm-ttn-2021/measurements.csv"], ulm_options(true));
    let s = &out.summary;
    assert_eq!(s.rows_read, 35_876);
    assert_eq!(
        s.accepted, 35_120,
        "README: 35,120 rows come from gateways with a position"
    );
    assert_eq!(s.rejected_by_reason.get("rx_without_position"), Some(&756));
    assert_eq!(s.rejected_by_reason.len(), 1);
    assert_eq!(out.sites.len(), 17);
    assert_eq!(s.gateways.as_ref().map(|g| g.accepted), Some(17));
    // Exact repeats (parked trucks) are kept, not rejected as duplicates.
    assert_eq!(out.links.len(), 35_120);
    // Line numbers point at the CSV lines: header is line 1.
    assert_eq!(out.links.input_row[0], 2);
    let first = out.links.get(0);
    assert_eq!(first.rssi_dbm, Some(-89.0));
    assert_eq!(first.rx_id.as_deref(), Some("eui-647fdafffe00a739"));
}

#[test]
fn parallel_and_single_thread_parsing_agree() {
    let parallel = run(&["ulm-ttn-2021/measurements.csv"], ulm_options(true));
    let single = run(&["ulm-ttn-2021/measurements.csv"], ulm_options(false));
    assert_eq!(parallel.summary, single.summary);
    assert_eq!(parallel.rejects, single.rejects);
    assert_eq!(parallel.links.len(), single.links.len());
    for i in (0..single.links.len()).step_by(97) {
        assert_eq!(parallel.links.get(i), single.links.get(i), "link {i}");
        assert_eq!(parallel.links.input_row[i], single.links.input_row[i]);
    }
    // Down to the id codes: chunks intern into shared pools in whatever order
    // the workers reach them, and the table is renumbered by first use.
    assert_eq!(parallel.links, single.links);
}

#[test]
fn helium_poc_receipts() {
    let out = run(
        &["helium-poc-sample/challenges.json"],
        IngestOptions::default(),
    );
    let s = &out.summary;
    // README: 5 beacons, 36 witness entries (1 + 6 + 25 + 4 + 0).
    assert_eq!((s.rows_read, s.accepted), (36, 36));
    let invalid = out.links.valid.iter().filter(|v| !**v).count();
    assert_eq!(invalid as u64, s.links_flagged_invalid);
    assert!(invalid > 0, "the sample has witnesses with is_valid false");
    for i in 0..out.links.len() {
        let link = out.links.get(i);
        assert_eq!(link.valid, link.invalid_reason.is_none(), "{link:?}");
        assert!(link.tx_id.is_some() && link.rx_id.is_some());
        assert!(link.snr_db.is_some() && link.freq_mhz.is_some() && link.time_unix_ms.is_some());
    }
}

#[test]
fn helium_console_events_without_device_positions_are_all_rejected() {
    let out = run(
        &["helium-poc-sample/integration_events.json"],
        IngestOptions::default(),
    );
    let s = &out.summary;
    assert_eq!((s.rows_read, s.accepted, s.rejected), (5, 0, 5));
    assert_eq!(s.rejected_by_reason.get("tx_without_position"), Some(&5));
    assert!(
        out.rejects
            .iter()
            .all(|r| r.row.contains("data.req.body.hotspots["))
    );
}

#[test]
fn helium_console_events_with_a_device_position_become_links() {
    let mut fixed = std::collections::HashMap::new();
    fixed.insert("2CF7F1C043400020".to_owned(), (47.5, 12.1));
    let options = IngestOptions {
        devices: DevicePositions {
            fixed,
            ..DevicePositions::default()
        },
        ..IngestOptions::default()
    };
    let out = run(&["helium-poc-sample/integration_events.json"], options);
    let s = &out.summary;
    assert_eq!(s.rows_read, 5);
    assert!(s.accepted > 0, "{s:?}");
    let link = out.links.get(0);
    assert_eq!(link.tx_id.as_deref(), Some("2CF7F1C043400020"));
    assert_eq!(link.spreading_factor, Some(12));
    assert!(link.frame_counter.is_some());
}

#[test]
fn hotspot_registries_in_both_layouts() {
    let list = run(
        &["helium-poc-sample/hotspots.json"],
        IngestOptions::default(),
    );
    assert_eq!((list.summary.rows_read, list.summary.accepted), (3, 3));
    assert_eq!(list.sites.len(), 3);
    let snapshot = run(
        &["helium-hotspots-2020/hotspots.json"],
        IngestOptions::default(),
    );
    let s = &snapshot.summary;
    // README: 3,640 hotspots, 3,558 located.
    assert_eq!((s.rows_read, s.accepted), (3_640, 3_558));
    assert_eq!(s.rejected_by_reason.get("site_without_position"), Some(&82));
    assert!(snapshot.links.is_empty());
}

#[test]
fn several_inputs_at_once() {
    let out = run(
        &[
            "helium-poc-sample/challenges.json",
            "helium-poc-sample/hotspots.json",
        ],
        IngestOptions::default(),
    );
    assert_eq!(out.summary.inputs.len(), 2);
    assert_eq!(out.summary.rows_read, 39);
    assert_eq!((out.links.len(), out.sites.len()), (36, 3));
}
