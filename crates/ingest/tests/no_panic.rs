//! Property tests in place of fuzz targets: whatever bytes a file holds, ingest
//! either accounts for every row or returns one-line error; it never panics.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use hexcover_ingest::{Format, IngestOptions, NoProgress, ingest};
use proptest::prelude::*;

fn run(bytes: &[u8], format: Option<Format>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    let options = IngestOptions {
        format,
        ..IngestOptions::default()
    };
    match ingest(&[path], &options, &NoProgress) {
        Ok(out) => {
            let s = &out.summary;
            assert_eq!(s.accepted + s.rejected, s.rows_read, "{s:?}");
            assert_eq!(out.links.len() as u64 + out.sites.len() as u64, s.accepted);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                !message.is_empty() && !message.contains('\n'),
                "{message:?}"
            );
        }
    }
}

/// CSV-ish text: link-table rows with a sprinkling of hostile fields.
fn link_csv() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        4 => (-200.0_f64..200.0).prop_map(|v| format!("{v:.4}")),
        1 => Just(String::new()),
        1 => Just("\"q,\"\"x\"\"\"".to_owned()),
        1 => Just("nan".to_owned()),
        1 => "[a-z;\\t\"]{0,6}",
    ];
    let row = proptest::collection::vec(field, 3..8).prop_map(|f| f.join(","));
    proptest::collection::vec(row, 0..30).prop_map(|rows| {
        let mut text = "tx_lat,tx_lon,rx_lat,rx_lon,rssi_dbm,snr_db\n".to_owned();
        for r in rows {
            text.push_str(&r);
            text.push_str(if r.len() % 3 == 0 { "\r\n" } else { "\n" });
        }
        text.into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn link_tables_never_panic(bytes in link_csv()) {
        run(&bytes, None);
        run(&bytes, Some(Format::LinksCsv));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for format in [None, Some(Format::LinksCsv), Some(Format::HeliumPoc), Some(Format::HeliumConsole),
                       Some(Format::HeliumHotspots), Some(Format::LinksParquet)] {
            run(&bytes, format);
        }
    }

    #[test]
    fn json_shapes_never_panic(value in json_value(3)) {
        let text = value.to_string();
        for format in [Format::HeliumPoc, Format::HeliumConsole, Format::HeliumHotspots] {
            run(text.as_bytes(), Some(format));
        }
    }
}

/// Random JSON using the keys the Helium readers look for.
fn json_value(depth: u32) -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (-200.0_f64..200.0).prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("8c268c62b75d5ff")),
        "[a-z]{0,5}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(depth, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("path"),
            Just("witnesses"),
            Just("location"),
            Just("signal"),
            Just("challengee_lat"),
            Just("challengee_lon"),
            Just("data"),
            Just("req"),
            Just("body"),
            Just("hotspots"),
            Just("lat"),
            Just("lng"),
            Just("long"),
            Just("rssi"),
            Just("gateway"),
            Just("fcnt"),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys.prop_map(str::to_owned), inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
