//! The streaming ingest of link tables: links CSV and links Parquet files of
//! any size, read and validated a chunk at a time, handed to a sink (the CLI
//! writes `links.parquet` and `rejects.csv` from it) and aggregated per H3
//! hex by the aggregation of `spill.rs`, which holds the few columns it
//! needs (≈ 50 bytes a link) in memory up to a budget and spills them to
//! disk beyond it, so memory holds a chunk and the budget, not the file.
//!
//! The result is the in-memory path's, row for row: the same parsers and
//! validation, rows in file order with the same line or record numbers, the
//! same rejects in the same order, the same summary and the same hexes.
//! What still grows with the input: the transmitter and receiver id pools,
//! the hex statistics themselves, and — only when a table has frame counters
//! and duplicate detection is on — the keys of every frame seen.

use std::path::{Path, PathBuf};

use h3o::Resolution;
use hexcover_core::{HexStats, LinkTable, Site};

use crate::csvread::{CsvFile, Parsed, SharedIds};
use crate::links_parquet::{ParquetChunks, validate_frame};
use crate::spill::{SpillAggregator, partition_count};
use crate::summary::{IngestSummary, InputSummary};
use crate::{
    Error, Format, IngestOptions, Progress, Reject, Result, dedupe, detect, links_csv, ulm,
};

/// A boxed error of a [`LinkSink`].
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Where a streaming ingest hands its output, in input order. `Send`: the CSV
/// reader hands it a block's links on a worker thread while the next block is
/// parsed.
pub trait LinkSink: Send {
    /// Called once before anything else with the names of the link inputs
    /// (in order, each once): what `LinkTable::inputs` lists in the in-memory
    /// path, and what `input_index` of later chunks refers to by name.
    ///
    /// # Errors
    /// Whatever the sink cannot do; the ingest stops with it.
    fn start(&mut self, inputs: &[String]) -> std::result::Result<(), SinkError>;
    /// A chunk of accepted links (its `inputs` name its input).
    ///
    /// # Errors
    /// Whatever the sink cannot do; the ingest stops with it.
    fn links(&mut self, links: &LinkTable) -> std::result::Result<(), SinkError>;
    /// Rejected rows, in input order.
    ///
    /// # Errors
    /// Whatever the sink cannot do; the ingest stops with it.
    fn rejects(&mut self, rejects: &[Reject]) -> std::result::Result<(), SinkError>;
}

/// How a streaming ingest cuts its input and where it spills.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Links per chunk handed to the sink and the aggregation (a Parquet
    /// row group larger than this is still read whole, then cut).
    pub chunk_rows: usize,
    /// Bytes of link columns the aggregation holds in memory (≈ 50 per link
    /// at one resolution) before it spills them to disk.
    pub memory_bytes: u64,
    /// Partitions of the spilled aggregation; `None` picks one per ~2 M
    /// links from the input sizes.
    pub partitions: Option<usize>,
    /// Bytes of CSV read per block (32 MiB; small in tests).
    pub csv_block_bytes: usize,
    /// The directory in which a temporary spill directory is made (and
    /// removed at the end): the study directory, on the disk that has room.
    pub spill_parent: PathBuf,
}

impl StreamOptions {
    /// Chunks of 256 Ki links, [`default_memory_bytes`] held in memory,
    /// automatic partitions, spilling into `spill_parent`.
    ///
    /// A chunk is written and aggregated while the next CSV block is parsed;
    /// 256 Ki links (one row group of `links.parquet`, about one 32 MiB
    /// block) keep the two sides about equally long (≈ 0.3 s each here);
    /// with chunks of 1 Mi links, every fourth block's write and aggregation
    /// (1.0–1.2 s) left a core idle beside a 0.3 s parse.
    #[must_use]
    pub fn new(spill_parent: &Path) -> Self {
        Self {
            chunk_rows: 1 << 18,
            memory_bytes: default_memory_bytes(),
            partitions: None,
            csv_block_bytes: 32 << 20,
            spill_parent: spill_parent.to_owned(),
        }
    }

    /// Set `chunk_rows` (at least 1).
    #[must_use]
    pub fn chunk_rows(mut self, rows: usize) -> Self {
        self.chunk_rows = rows.max(1);
        self
    }

    /// Set the bytes held in memory before the aggregation spills (0: spill
    /// from the first chunk).
    #[must_use]
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Set the number of partitions (at least 1).
    #[must_use]
    pub fn partitions(mut self, partitions: usize) -> Self {
        self.partitions = Some(partitions.max(1));
        self
    }

    /// Set the CSV block size (at least 1 KiB).
    #[must_use]
    pub fn csv_block_bytes(mut self, bytes: usize) -> Self {
        self.csv_block_bytes = bytes.max(1 << 10);
        self
    }
}

/// What the aggregation holds in memory by default: an eighth of the memory
/// this process can still take ([`available_memory_bytes`]), so that the
/// final group-by, which needs two to three times what it reads, stays well
/// within it; at least 64 MiB; 1 GiB where nothing can be read.
#[must_use]
pub fn default_memory_bytes() -> u64 {
    memory_budget(available_memory_bytes())
}

/// The aggregation's budget for `available` bytes (see
/// [`default_memory_bytes`]).
#[must_use]
pub fn memory_budget(available: Option<u64>) -> u64 {
    const FLOOR: u64 = 64 << 20;
    available.map_or(1 << 30, |available| (available / 8).max(FLOOR))
}

/// Memory this process can still take, on Linux: the least of the
/// system's `MemAvailable`, what an address-space cap (`ulimit -v`) leaves
/// beyond what the process has mapped, and what a cgroup's `memory.max`
/// leaves beyond its `memory.current`. `None` where none can be read.
#[must_use]
pub fn available_memory_bytes() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    // "Key:   123 kB" lines of /proc/meminfo and /proc/self/status.
    let kib_field = |text: &str, key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    };
    let mut limits: Vec<u64> = Vec::new();
    if let Some(kib) = read("/proc/meminfo").and_then(|t| kib_field(&t, "MemAvailable:")) {
        limits.push(kib.saturating_mul(1024));
    }
    // "Max address space   <soft>   <hard>   bytes" ("unlimited" when none).
    let cap = read("/proc/self/limits").and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("Max address space"))?;
        line["Max address space".len()..]
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
    });
    if let Some(cap) = cap {
        let mapped = read("/proc/self/status")
            .and_then(|t| kib_field(&t, "VmSize:"))
            .unwrap_or(0)
            .saturating_mul(1024);
        limits.push(cap.saturating_sub(mapped));
    }
    let cgroup = |name: &str| -> Option<u64> {
        read(&format!("/sys/fs/cgroup/{name}"))?.trim().parse().ok()
    };
    if let Some(max) = cgroup("memory.max") {
        limits.push(max.saturating_sub(cgroup("memory.current").unwrap_or(0)));
    }
    limits.into_iter().min()
}

/// What a streaming ingest returns (links and rejects went to the sink).
#[derive(Debug, Clone)]
pub struct Streamed {
    /// The accepted sites (the `--gateways` list).
    pub sites: Vec<Site>,
    /// The accounting, as [`crate::ingest`] reports it.
    pub summary: IngestSummary,
    /// One list of hexes per resolution, sorted by cell.
    pub hexes: Vec<Vec<HexStats>>,
    /// Whether the aggregation outgrew [`StreamOptions::memory_bytes`] and
    /// went through spill files.
    pub spilled: bool,
}

/// The format of every input, when each is a link table (links CSV or
/// links Parquet) and so can be streamed; `None` otherwise.
///
/// # Errors
/// An input whose format cannot be detected.
pub fn link_table_formats(
    inputs: &[PathBuf],
    options: &IngestOptions,
) -> Result<Option<Vec<Format>>> {
    let mut formats = Vec::with_capacity(inputs.len());
    for path in inputs {
        let format = match options.format {
            Some(f) => f,
            None => detect(path)?,
        };
        if !matches!(format, Format::LinksCsv | Format::LinksParquet) {
            return Ok(None);
        }
        formats.push(format);
    }
    Ok((!inputs.is_empty()).then_some(formats))
}

/// Read, validate and aggregate link tables that may not fit in memory:
/// the same result as [`crate::ingest`] followed by [`crate::aggregate`],
/// with the links and rejects handed to `sink` chunk by chunk.
///
/// # Errors
/// What [`crate::ingest`] fails on; an input that is not a link table;
/// the sink's errors; spill files that cannot be written.
pub fn ingest_streaming(
    inputs: &[PathBuf],
    options: &IngestOptions,
    resolutions: &[Resolution],
    stream: &StreamOptions,
    sink: &mut dyn LinkSink,
    progress: &dyn Progress,
) -> Result<Streamed> {
    if inputs.is_empty() {
        return Err(Error::Option("no input file given".to_owned()));
    }
    let Some(formats) = link_table_formats(inputs, options)? else {
        return Err(Error::Option(
            "the streaming ingest reads link tables (links CSV or links Parquet) only".to_owned(),
        ));
    };
    let mut names: Vec<String> = Vec::new();
    for path in inputs {
        let name = display(path);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    sink.start(&names).map_err(Error::Sink)?;

    let mut sites = Vec::new();
    let gateways = match &options.gateways {
        Some(path) => {
            let g = ulm::read_gateways(path, &display(path))?;
            sites.extend(g.sites.iter().cloned());
            sink.rejects(&g.rejects).map_err(Error::Sink)?;
            Some(g.summary)
        }
        None => None,
    };

    let mut estimated_rows = 0_u64;
    for (path, format) in inputs.iter().zip(&formats) {
        estimated_rows += match format {
            Format::LinksParquet => ParquetChunks::open(path, 1)?.total_rows(),
            // A link-table CSV row takes at least ~50 bytes.
            _ => {
                std::fs::metadata(path)
                    .map_err(|e| Error::io(path, e))?
                    .len()
                    / 50
            }
        };
    }
    let partitions = stream
        .partitions
        .unwrap_or_else(|| partition_count(estimated_rows, resolutions.len()));
    let mut chunks = Chunker {
        pending: LinkTable::default(),
        chunk_rows: stream.chunk_rows.max(1),
        aggregator: SpillAggregator::new(
            resolutions,
            partitions,
            stream.memory_bytes,
            &stream.spill_parent,
        ),
        sink,
        links: 0,
        flagged: 0,
    };

    let seen = dedupe::Seen::new(options.find_duplicates);
    let mut summaries = Vec::with_capacity(inputs.len());
    for (path, &format) in inputs.iter().zip(&formats) {
        let name = display(path);
        let total = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        progress.start(&name, total);
        let mut summary = InputSummary::new(&name, format);
        let advance = |bytes: u64| progress.advance_to(bytes);
        match format {
            Format::LinksCsv => {
                let file = CsvFile::open(path, &name)?.with_block_bytes(stream.csv_block_bytes);
                let parser = links_csv::LinkCsvParser::new(&file, path, &seen)?;
                let parallel = options.parallel && parser.parallel();
                let ids = SharedIds::default();
                file.parse_blocks(&parser, parallel, Some(&ids), &advance, &mut |part| {
                    chunks.add(part, Some(&ids), &mut summary)
                })?;
                // A chunk never spans two inputs.
                chunks.flush(Some(&ids))?;
            }
            _ => {
                let mut reader = ParquetChunks::open(path, stream.chunk_rows)?;
                let rows = reader.total_rows().max(1);
                let mut done = 0_u64;
                while let Some(df) = reader.next_frame()? {
                    let part = validate_frame(&df, path, &name, &seen, done)?;
                    done += df.height() as u64;
                    chunks.add(part, None, &mut summary)?;
                    // Progress in bytes, estimated from the rows read.
                    advance(
                        u64::try_from(u128::from(total) * u128::from(done) / u128::from(rows))
                            .unwrap_or(total),
                    );
                }
                chunks.flush(None)?;
            }
        }
        progress.finish();
        summaries.push(summary);
    }
    let Chunker {
        aggregator,
        links,
        flagged,
        ..
    } = chunks;
    let spilled = aggregator.spilled();
    let hexes = aggregator.finish()?;
    let summary =
        IngestSummary::from_inputs(summaries, gateways, links, flagged, sites.len() as u64);
    Ok(Streamed {
        sites,
        summary,
        hexes,
        spilled,
    })
}

/// Collects parsed parts into chunks of about `chunk_rows` links and hands
/// each to the sink and the aggregation.
struct Chunker<'s> {
    pending: LinkTable,
    chunk_rows: usize,
    aggregator: SpillAggregator,
    sink: &'s mut dyn LinkSink,
    links: u64,
    flagged: u64,
}

impl Chunker<'_> {
    /// Add a parsed part. With `ids`, the part's id codes are codes of those
    /// shared pools (its own pools are empty) and are copied as they are.
    fn add(
        &mut self,
        part: Parsed,
        ids: Option<&SharedIds>,
        summary: &mut InputSummary,
    ) -> Result<()> {
        summary.rows_read += part.rows_read;
        summary.records_without_reception += part.records_skipped;
        summary.accepted += part.table.len() as u64;
        summary.count_rejects(&part.rejects);
        // Rejects go on at once: their order is the input order either way.
        self.sink.rejects(&part.rejects).map_err(Error::Sink)?;
        if self.pending.inputs.is_empty() {
            self.pending = part.table;
        } else if ids.is_some() {
            let same = |code: u32| code;
            self.pending
                .append_with_codes(&part.table, same, same, same);
        } else {
            self.pending.append(&part.table);
        }
        if self.pending.len() >= self.chunk_rows {
            self.flush(ids)?;
        }
        Ok(())
    }

    /// Hand the pending links on; with `ids`, they get a copy of the shared
    /// pools as their own (every code they use is in it).
    fn flush(&mut self, ids: Option<&SharedIds>) -> Result<()> {
        let mut chunk = std::mem::take(&mut self.pending);
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(ids) = ids {
            [chunk.tx_ids, chunk.rx_ids, chunk.reasons] = ids.snapshot();
        }
        self.links += chunk.len() as u64;
        self.flagged += chunk.valid.iter().filter(|v| !**v).count() as u64;
        // The writer and the spill are independent and each mostly
        // sequential: side by side they keep both cores busy.
        let (written, spilled) = rayon::join(
            || self.sink.links(&chunk).map_err(Error::Sink),
            || self.aggregator.push(&chunk),
        );
        written?;
        spilled
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
