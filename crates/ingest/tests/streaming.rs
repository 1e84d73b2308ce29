//! The streaming ingest gives exactly what the in-memory path gives: the same
//! links row for row (and the same `links.parquet`), the same rejects, the
//! same summary and the same hex statistics — with chunks and partitions
//! small enough that many of each are used.

// Test helpers may panic: a panic is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use h3o::Resolution;
use hexcover_core::{Link, LinkTable};
use hexcover_export::{LinksParquetWriter, write_links_parquet};
use hexcover_ingest::{
    Format, IngestOptions, LinkSink, NoProgress, Reject, SinkError, StreamOptions, Streamed,
    aggregate, ingest, ingest_streaming,
};
use polars::prelude::*;
use proptest::prelude::*;

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

/// Keeps what the streaming ingest hands on, and writes it as
/// `links.parquet` through the chunked writer.
struct Collect {
    links_path: PathBuf,
    writer: Option<LinksParquetWriter>,
    inputs: Vec<String>,
    links: LinkTable,
    rejects: Vec<Reject>,
    chunks: usize,
}

impl Collect {
    fn new(links_path: PathBuf) -> Self {
        Self {
            links_path,
            writer: None,
            inputs: Vec::new(),
            links: LinkTable::default(),
            rejects: Vec::new(),
            chunks: 0,
        }
    }
}

impl LinkSink for Collect {
    fn start(&mut self, inputs: &[String]) -> Result<(), SinkError> {
        self.inputs = inputs.to_vec();
        self.writer = Some(LinksParquetWriter::create(&self.links_path, inputs)?);
        Ok(())
    }

    fn links(&mut self, links: &LinkTable) -> Result<(), SinkError> {
        self.chunks += 1;
        self.writer.as_mut().unwrap().write(links)?;
        self.links.append(links);
        Ok(())
    }

    fn rejects(&mut self, rejects: &[Reject]) -> Result<(), SinkError> {
        self.rejects.extend_from_slice(rejects);
        Ok(())
    }
}

const RESOLUTIONS: [Resolution; 3] = [Resolution::Seven, Resolution::Nine, Resolution::Twelve];

/// Run both paths on `inputs`, assert that they agree, and return the
/// streamed result and the number of chunks.
fn both_ways(
    inputs: &[PathBuf],
    options: &IngestOptions,
    stream: &StreamOptions,
    dir: &Path,
) -> (Streamed, usize) {
    let memory = ingest(inputs, options, &NoProgress).expect("in-memory ingest");
    let memory_hexes = aggregate(&memory.links, &RESOLUTIONS).expect("aggregate");
    let mut sink = Collect::new(dir.join("streamed-links.parquet"));
    let streamed = ingest_streaming(
        inputs,
        options,
        &RESOLUTIONS,
        stream,
        &mut sink,
        &NoProgress,
    )
    .expect("streaming ingest");
    sink.writer.take().unwrap().finish().expect("finish links");

    // Links, row for row, with their input and row.
    assert_eq!(sink.links.len(), memory.links.len());
    assert_eq!(sink.inputs, memory.links.inputs);
    for i in 0..memory.links.len() {
        assert_eq!(sink.links.get(i), memory.links.get(i), "link {i}");
        assert_eq!(sink.links.input_row[i], memory.links.input_row[i]);
        assert_eq!(
            sink.links.inputs[usize::from(sink.links.input_index[i])],
            memory.links.inputs[usize::from(memory.links.input_index[i])]
        );
    }
    assert_eq!(sink.rejects, memory.rejects);
    assert_eq!(streamed.summary, memory.summary);
    assert_eq!(streamed.sites, memory.sites);
    assert_eq!(streamed.hexes.len(), RESOLUTIONS.len());
    for (streamed, memory) in streamed.hexes.iter().zip(&memory_hexes) {
        assert_eq!(streamed.len(), memory.len());
        for (s, m) in streamed.iter().zip(memory) {
            assert_eq!(s, m);
        }
    }

    // links.parquet: the chunked writer's file holds the same rows, schema
    // and input list as the one-shot writer's.
    let whole = dir.join("memory-links.parquet");
    write_links_parquet(&whole, &memory.links).expect("write links");
    let read = |p: &Path| {
        ParquetReader::new(std::fs::File::open(p).unwrap())
            .finish()
            .unwrap()
    };
    let (a, b) = (read(&whole), read(&dir.join("streamed-links.parquet")));
    assert_eq!(a.schema(), b.schema());
    assert!(a.equals_missing(&b), "links.parquet rows differ");
    let inputs_of = |p: &Path| {
        let mut reader = ParquetReader::new(std::fs::File::open(p).unwrap());
        let md = reader.get_metadata().unwrap().clone();
        md.key_value_metadata()
            .as_ref()
            .and_then(|kv| kv.iter().find(|k| k.key == "hexcover:inputs"))
            .and_then(|k| k.value.clone())
    };
    assert_eq!(
        inputs_of(&whole),
        inputs_of(&dir.join("streamed-links.parquet"))
    );
    (streamed, sink.chunks)
}

/// Nothing of the spill is left behind.
fn assert_no_spill(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".hexcover-spill"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn ulm_links_parquet_streams_to_the_same_study() {
    let dir = tempfile::tempdir().unwrap();
    // The real Ulm drive test, ingested once and written as links.parquet.
    let ulm = ingest(
        &[shared("ulm-ttn-2021/measurements.csv")],
        &IngestOptions {
            gateways: Some(shared("ulm-ttn-2021/gateways.csv")),
            ..IngestOptions::default()
        },
        &NoProgress,
    )
    .unwrap();
    let links = dir.path().join("links.parquet");
    write_links_parquet(&links, &ulm.links).unwrap();

    // Re-read both ways, as `hexcover ingest links.parquet` does.
    let spill = dir.path().join("spill");
    std::fs::create_dir_all(&spill).unwrap();
    // Held in memory throughout, spilled from the first chunk, and spilled
    // after a few chunks (the held ones first, then the rest).
    for (budget, spills) in [(u64::MAX, false), (0, true), (600_000, true)] {
        let stream = StreamOptions::new(&spill)
            .chunk_rows(4_000)
            .partitions(5)
            .memory_bytes(budget);
        let (streamed, chunks) = both_ways(
            std::slice::from_ref(&links),
            &IngestOptions::default(),
            &stream,
            dir.path(),
        );
        assert_eq!(streamed.summary.links, 35_120);
        assert!(chunks >= 8, "{chunks} chunks");
        assert!(streamed.hexes.iter().all(|h| !h.is_empty()));
        assert_eq!(streamed.spilled, spills, "budget {budget}");
        assert_no_spill(&spill);
    }

    // And with duplicate detection off, as `hexcover export` reads it.
    let options = IngestOptions {
        format: Some(Format::LinksParquet),
        find_duplicates: false,
        ..IngestOptions::default()
    };
    let stream = StreamOptions::new(&spill)
        .chunk_rows(10_007)
        .partitions(3)
        .memory_bytes(0);
    let (streamed, _) = both_ways(std::slice::from_ref(&links), &options, &stream, dir.path());
    assert!(streamed.spilled);
    assert_no_spill(&spill);
}

/// A links CSV with rows of every kind of trouble, quoted fields, CRLF and
/// frame counters (so duplicates are found across blocks and inputs).
fn bad_rows_csv() -> String {
    let mut text = String::from(
        "tx_lat,tx_lon,rx_lat,rx_lon,rssi_dbm,snr_db,time_unix_ms,tx_id,rx_id,frame_counter,heard,valid,invalid_reason\n",
    );
    // LAT, RSSI and FC vary per row: hexes differ, means are not sums of
    // integers (a different summation order would show), and frames are
    // new; the first two rows repeat one frame (a duplicate every time).
    let rows = [
        "LAT,9.99,48.43,10.02,-101.5,-3.25,1622937600000,dev-1,gw-a,1,,,",
        "LAT,9.99,48.43,10.02,-101.5,-3.25,1622937600000,dev-1,gw-a,1,,,",
        "0,0,48.43,10.02,-100,1,1622937600001,dev-2,gw-a,,,,",
        "LAT,9.98,48.43,10.02,abc,1,1622937600002,dev-2,gw-b,,,,",
        "LAT,9.98,48.43,10.02,5,1,1622937600003,dev-2,gw-b,,,,",
        "LAT,9.98,48.43,10.02,-90,55,1622937600004,dev-2,gw-b,,,,",
        "LAT,9.98,48.43,10.02,-90,1,1622937600005,dev-2,gw-b,,,,,extra",
        "LAT,9.98,49.90,10.02,-90,1,1622937600006,dev-2,gw-b,,,,",
        "LAT,9.98,48.43,10.02,,1,1622937600007,dev-2,gw-b,,,,",
        "LAT,9.98,48.43,10.02,,,1622937600008,dev-3,gw-c,,false,,",
        "LAT,9.98,48.43,10.02,RSSI,2.5,1622937600009,dev-3,\"gw,quoted\",FC,,false,\"bad \"\"witness\"\"\"",
        "91,9.98,48.43,10.02,-80,2,1622937600010,dev-3,gw-c,,,,",
        "LAT,9.98,48.43,10.02,-80,2,1622937600011,dev-3,gw-c,99999999999,,,",
        "LAT,9.97,48.43,10.02,RSSI,0.35,1622937600012,dev-4,gw-d,FC,,,",
        "LAT,9.97,48.43,10.02,RSSI,-7.15,1622937600013,dev-5,gw-a,,,,",
    ];
    for i in 0..400_u32 {
        let lat = 48.38 + f64::from(i % 17) * 0.0031;
        let rssi = -120.0 + f64::from(i % 29) * 1.37;
        let row = rows[i as usize % rows.len()]
            .replace("LAT", &format!("{lat:.5}"))
            .replace("RSSI", &format!("{rssi:.2}"))
            .replace("FC", &i.to_string());
        text.push_str(&row);
        text.push_str(if i % 5 == 0 { "\r\n" } else { "\n" });
    }
    text
}

#[test]
fn links_csv_with_bad_rows_streams_to_the_same_study() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, bad_rows_csv()).unwrap();
    // The second input repeats a part of the first: duplicates across inputs.
    std::fs::write(
        &b,
        bad_rows_csv()
            .lines()
            .take(60)
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let inputs = [a, b];
    for (parallel, block, chunk, parts, budget) in [
        (true, 1_024, 37, 4, 0),
        (false, 2_000, 1, 1, 2_000),
        (true, 1 << 20, 1_000, 7, u64::MAX),
    ] {
        let options = IngestOptions {
            parallel,
            ..IngestOptions::default()
        };
        let stream = StreamOptions::new(dir.path())
            .csv_block_bytes(block)
            .chunk_rows(chunk)
            .partitions(parts)
            .memory_bytes(budget);
        let (streamed, _) = both_ways(&inputs, &options, &stream, dir.path());
        let s = &streamed.summary;
        assert!(s.balanced);
        assert!(s.rejected > 0 && s.links > 0);
        for reason in [
            "duplicate_frame",
            "no_gps_fix",
            "non_numeric",
            "rssi_out_of_range",
            "snr_out_of_range",
            "wrong_field_count",
            "distance_over_100km",
            "missing_field",
            "tx_position_out_of_range",
            "value_out_of_range",
        ] {
            assert!(s.rejected_by_reason.contains_key(reason), "{reason}: {s:?}");
        }
        assert_no_spill(dir.path());
    }
}

/// One random link as a CSV row.
fn link_row(link: &Link) -> String {
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    format!(
        "{},{},{},{},{},{},{},{},{},{},{}\n",
        link.tx_lat,
        link.tx_lon,
        link.rx_lat,
        link.rx_lon,
        opt(link.rssi_dbm),
        opt(link.snr_db),
        link.time_unix_ms
            .map_or_else(String::new, |t| t.to_string()),
        link.tx_id.clone().unwrap_or_default(),
        link.rx_id.clone().unwrap_or_default(),
        link.heard,
        link.valid,
    )
}

fn arbitrary_link() -> impl Strategy<Value = Link> {
    (
        (48.35_f64..48.45, 9.90_f64..10.05),
        proptest::option::weighted(0.95, -140.0_f64..-30.0),
        proptest::option::of(-20.0_f64..12.0),
        proptest::option::of(1_622_937_600_000_i64..1_624_147_200_000),
        proptest::option::of(0_u8..6),
        proptest::option::of(0_u8..5),
        proptest::bool::weighted(0.9),
    )
        .prop_map(|((lat, lon), rssi, snr, time, tx, rx, valid)| Link {
            rssi_dbm: rssi,
            heard: rssi.is_some(),
            snr_db: snr,
            time_unix_ms: time,
            tx_id: tx.map(|t| format!("dev-{t}")),
            rx_id: rx.map(|r| format!("gw-{r}")),
            valid,
            ..Link::heard(lat, lon, 48.40, 9.99, -100.0)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn streaming_equals_in_memory_on_random_links(
        links in proptest::collection::vec(arbitrary_link(), 0..300),
        chunk in 1_usize..80,
        parts in 1_usize..9,
        budget in proptest::sample::select(vec![0_u64, 3_000, u64::MAX]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("links.csv");
        let mut text = String::from(
            "tx_lat,tx_lon,rx_lat,rx_lon,rssi_dbm,snr_db,time_unix_ms,tx_id,rx_id,heard,valid\n",
        );
        for link in &links {
            text.push_str(&link_row(link));
        }
        std::fs::write(&path, text).unwrap();
        let stream = StreamOptions::new(dir.path())
            .chunk_rows(chunk)
            .partitions(parts)
            .memory_bytes(budget)
            .csv_block_bytes(1_024);
        let (streamed, _) = both_ways(&[path], &IngestOptions::default(), &stream, dir.path());
        prop_assert_eq!(streamed.summary.links, links.len() as u64);
    }
}

#[test]
fn the_memory_budget_follows_what_the_system_has() {
    use hexcover_ingest::memory_budget;
    // An eighth of what is available, at least 64 MiB, 1 GiB when unknown.
    assert_eq!(memory_budget(Some(8 << 30)), 1 << 30);
    assert_eq!(memory_budget(Some(100 << 20)), 64 << 20);
    assert_eq!(memory_budget(None), 1 << 30);
    if cfg!(target_os = "linux") {
        // Read from /proc (its value moves with the machine, so only its
        // presence is checked here).
        let available = hexcover_ingest::available_memory_bytes().expect("/proc/meminfo");
        assert!(available > 0);
    }
}
