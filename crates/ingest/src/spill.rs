//! Aggregation of links that arrive in chunks, in memory while they fit and
//! as an external, hash-partitioned group-by once they do not.
//!
//! Each chunk of links is turned into the columns the statistics need (the
//! same `link_frame` as the in-memory path) plus its transmitter cell at each
//! resolution: about 50 bytes a link, a third of a whole link. Chunks are
//! held as such until they outgrow the memory budget; the aggregation then
//! aggregates them all at once, in input order, exactly as the in-memory path
//! does. Past the budget the held chunks, and every chunk after them, go to
//! disk: each row is appended to one of `P` partition files per
//! resolution, chosen by a hash of the cell. Every link of a cell lands in
//! the same partition, in input order. At the end each partition is read
//! alone and aggregated with the in-memory path's `hex_frame`, so every
//! statistic — exact medians and quantiles, distinct counts, the best
//! receiver, and the means, which polars sums in row order — is the one the
//! in-memory path computes; the hexes of all partitions are then sorted by
//! cell. Memory holds one chunk while reading and one partition while
//! aggregating, plus the hex statistics themselves.
//!
//! The partition files are Parquet (zstd): the spill of 100 M links at three
//! resolutions is a few GB instead of the ~13 GB of raw rows.

use std::fs::File;
use std::path::{Path, PathBuf};

use h3o::Resolution;
use hexcover_core::{HexStats, IdPool, LinkTable};
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use polars_parquet::write::ZstdLevel;
use rayon::prelude::*;

use crate::aggregate::{CellCache, ReceiverNames, hex_frame, hex_rows, link_frame, polars_error};
use crate::{Error, Result};

/// Rows per partition the automatic partition count aims at: a partition's
/// group-by then needs a few hundred MB at most.
pub(crate) const ROWS_PER_PARTITION: u64 = 2_000_000;
/// At most this many partition files are open at once (all resolutions).
const MAX_OPEN_FILES: usize = 512;

/// A directory of temporary files, removed with everything in it when dropped
/// (also when an ingest fails half-way).
pub(crate) struct SpillDir {
    path: PathBuf,
}

impl SpillDir {
    /// Create a fresh hidden directory inside `parent`.
    pub(crate) fn create(parent: &Path) -> Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!(".hexcover-spill-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self { path })
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        // Temporary files only: failing to remove them changes no result.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// How many partitions for about `rows` links at `n_resolutions` resolutions.
pub(crate) fn partition_count(rows: u64, n_resolutions: usize) -> usize {
    let wanted = usize::try_from(rows.div_ceil(ROWS_PER_PARTITION)).unwrap_or(usize::MAX);
    wanted.clamp(1, (MAX_OPEN_FILES / n_resolutions.max(1)).max(1))
}

/// The partition of a cell: a multiplicative hash, so that neighbouring
/// cells (which share their high bits) spread over all partitions.
fn partition_of(cell: u64, partitions: usize) -> usize {
    let mixed = cell.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    usize::try_from(mixed).unwrap_or(0) % partitions
}

/// The aggregation of links that arrive in chunks: held in memory up to a
/// budget, hash-partitioned on disk beyond it.
pub(crate) struct SpillAggregator {
    resolutions: Vec<Resolution>,
    partitions: usize,
    /// Where the spill goes; created when the budget is first exceeded.
    spill_parent: PathBuf,
    dir: Option<SpillDir>,
    /// Chunks held in memory, in input order, until they outgrow
    /// `memory_bytes` (then they are spilled and this stays empty).
    held: Vec<HeldChunk>,
    held_bytes: u64,
    memory_bytes: u64,
    /// One writer per resolution and partition, opened on its first rows.
    writers: Vec<Vec<Option<BatchedWriter<File>>>>,
    /// Transmitter and receiver ids of all chunks: chunk codes are mapped to
    /// these, so a code means the same id in every partition file.
    tx_ids: IdPool,
    rx_ids: IdPool,
    /// Transmitter cells by code of `tx_ids`.
    cells: CellCache,
}

/// A chunk's link columns and its transmitter cells at each resolution.
struct HeldChunk {
    base: DataFrame,
    cells: Vec<Vec<u64>>,
}

impl SpillAggregator {
    /// Hold up to `memory_bytes` of link columns, then spill into `partitions`
    /// files per resolution in a new directory inside `parent`.
    pub(crate) fn new(
        resolutions: &[Resolution],
        partitions: usize,
        memory_bytes: u64,
        parent: &Path,
    ) -> Self {
        let partitions = partitions.max(1);
        Self {
            resolutions: resolutions.to_vec(),
            partitions,
            spill_parent: parent.to_owned(),
            dir: None,
            held: Vec::new(),
            held_bytes: 0,
            memory_bytes,
            writers: resolutions
                .iter()
                .map(|_| (0..partitions).map(|_| None).collect())
                .collect(),
            tx_ids: IdPool::default(),
            rx_ids: IdPool::default(),
            cells: CellCache::new(resolutions),
        }
    }

    /// Whether chunks go to disk (the budget was exceeded).
    pub(crate) fn spilled(&self) -> bool {
        self.dir.is_some()
    }

    /// Add a chunk of accepted links.
    pub(crate) fn push(&mut self, chunk: &LinkTable) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let tx_codes: Vec<u32> = chunk
            .tx_ids
            .names()
            .iter()
            .map(|n| self.tx_ids.intern(n))
            .collect();
        let rx_codes: Vec<u32> = chunk
            .rx_ids
            .names()
            .iter()
            .map(|n| self.rx_ids.intern(n))
            .collect();
        let base = link_frame(chunk, &tx_codes, &rx_codes).map_err(polars_error)?;
        let cells = self.cells.cells(chunk, &tx_codes);
        let held = HeldChunk { base, cells };
        if self.spilled() {
            return self.spill(&held);
        }
        self.held_bytes += held.bytes();
        self.held.push(held);
        if self.held_bytes > self.memory_bytes {
            self.dir = Some(SpillDir::create(&self.spill_parent)?);
            for held in std::mem::take(&mut self.held) {
                self.spill(&held)?;
            }
            self.held_bytes = 0;
        }
        Ok(())
    }

    /// Append a chunk to the partition files.
    fn spill(&mut self, chunk: &HeldChunk) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Err(Error::Option(
                "spilling without a spill directory".to_owned(),
            ));
        };
        let (dir, partitions) = (&dir.path, self.partitions);
        // The resolutions write to their own files: side by side.
        self.writers
            .par_iter_mut()
            .zip(chunk.cells.par_iter())
            .zip(self.resolutions.par_iter())
            .map(|((writers, cells), &res)| {
                spill_resolution(&chunk.base, cells, res, partitions, writers, dir)
            })
            .collect::<Result<Vec<()>>>()?;
        Ok(())
    }

    /// Aggregate every partition: one list of hexes per resolution, sorted
    /// by cell, equal to what `aggregate` returns for all the links at once.
    pub(crate) fn finish(mut self) -> Result<Vec<Vec<HexStats>>> {
        let held = std::mem::take(&mut self.held);
        let ranks = self.rx_ids.lexicographic_ranks();
        let names = ReceiverNames::new(&self.rx_ids);
        let Some(dir) = &self.dir else {
            return aggregate_held(held, self.resolutions.len(), &ranks, &names);
        };
        let mut out = Vec::with_capacity(self.resolutions.len());
        for (r, &res) in self.resolutions.iter().enumerate() {
            let mut files = Vec::new();
            for (p, slot) in self.writers[r].iter_mut().enumerate() {
                if let Some(writer) = slot.take() {
                    let path = partition_path(&dir.path, res, p);
                    writer.finish().map_err(|e| spill_error(&path, e))?;
                    files.push(path);
                }
            }
            let mut hexes = Vec::new();
            // Two partitions at a time: both cores busy, memory for two.
            for pair in files.chunks(2) {
                let done = pair
                    .par_iter()
                    .map(|path| {
                        let df = read_partition(path, &ranks)?;
                        let stats = hex_frame(df).map_err(polars_error)?;
                        let rows = hex_rows(&stats, &names).map_err(polars_error)?;
                        // The partition is done; its disk space goes back now.
                        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
                        Ok(rows)
                    })
                    .collect::<Result<Vec<_>>>()?;
                hexes.extend(done.into_iter().flatten());
            }
            hexes.sort_unstable_by_key(|h| h.cell);
            out.push(hexes);
        }
        Ok(out)
    }
}

/// Aggregate the held chunks: per resolution, all of them as one frame
/// in input order, as the in-memory path aggregates its table.
///
/// The link columns are stacked, made contiguous (column by column on all
/// cores: a copy of every held byte into fresh pages) and ranked once; each
/// resolution then adds its cells to that one frame.
fn aggregate_held(
    held: Vec<HeldChunk>,
    resolutions: usize,
    ranks: &[u32],
    names: &ReceiverNames<'_>,
) -> Result<Vec<Vec<HexStats>>> {
    let (bases, chunk_cells): (Vec<DataFrame>, Vec<Vec<Vec<u64>>>) = held
        .into_iter()
        .map(|chunk| (chunk.base, chunk.cells))
        .unzip();
    let mut bases = bases.into_iter();
    let Some(mut base) = bases.next() else {
        return Ok(vec![Vec::new(); resolutions]);
    };
    for df in bases {
        base.vstack_mut_owned(df).map_err(polars_error)?;
    }
    // The chunks' own buffers are released here, before the group-by.
    base.rechunk_mut_par();
    let base = rank_receivers(base, ranks).map_err(polars_error)?;
    let rows = base.height();
    let mut out = Vec::with_capacity(resolutions);
    for r in 0..resolutions {
        let mut cells: Vec<u64> = Vec::with_capacity(rows);
        for chunk in &chunk_cells {
            cells.extend_from_slice(&chunk[r]);
        }
        let mut df = base.clone();
        df.with_column(Column::new("cell".into(), cells))
            .map_err(polars_error)?;
        let stats = hex_frame(df).map_err(polars_error)?;
        out.push(hex_rows(&stats, names).map_err(polars_error)?);
    }
    Ok(out)
}

impl HeldChunk {
    /// Bytes held: the link columns once (each resolution's frame shares
    /// them) and the cells.
    fn bytes(&self) -> u64 {
        let cells: usize = self.cells.iter().map(|c| c.len() * 8).sum();
        (self.base.estimated_size() + cells) as u64
    }
}

fn partition_path(dir: &Path, res: Resolution, partition: usize) -> PathBuf {
    dir.join(format!("res{}-part{partition}.parquet", u8::from(res)))
}

fn spill_error(path: &Path, source: PolarsError) -> Error {
    Error::Polars {
        path: path.to_owned(),
        source,
    }
}

/// Append the rows of a chunk (`base`, its link columns, and `cells`, its
/// transmitter cells at `res`) to the partition files of resolution `res`.
fn spill_resolution(
    base: &DataFrame,
    cells: &[u64],
    res: Resolution,
    partitions: usize,
    writers: &mut [Option<BatchedWriter<File>>],
    dir: &Path,
) -> Result<()> {
    let mut rows: Vec<Vec<IdxSize>> = vec![Vec::new(); partitions];
    for (i, &cell) in cells.iter().enumerate() {
        let i = IdxSize::try_from(i).map_err(|_| {
            Error::Option("a chunk holds more rows than polars can index".to_owned())
        })?;
        rows[partition_of(cell, partitions)].push(i);
    }
    let mut df = base.clone();
    df.with_column(Column::new("cell".into(), cells))
        .map_err(polars_error)?;
    for ((p, rows), slot) in rows.into_iter().enumerate().zip(writers.iter_mut()) {
        if rows.is_empty() {
            continue;
        }
        let part = df
            .take(&IdxCa::from_vec("rows".into(), rows))
            .map_err(polars_error)?;
        let path = partition_path(dir, res, p);
        if slot.is_none() {
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            // Level 1: the spill is written once and read once; zstd's
            // default level costs twice the time for a few percent of disk.
            let level = ZstdLevel::try_new(1).map_err(|e| spill_error(&path, e))?;
            let writer = ParquetWriter::new(file)
                .with_compression(ParquetCompression::Zstd(Some(level)))
                .batched(part.schema())
                .map_err(|e| spill_error(&path, e))?;
            *slot = Some(writer);
        }
        if let Some(writer) = slot {
            writer
                .write_batch(&part)
                .map_err(|e| spill_error(&path, e))?;
        }
    }
    Ok(())
}

/// One partition file, receiver codes replaced by their lexicographic rank.
fn read_partition(path: &Path, ranks: &[u32]) -> Result<DataFrame> {
    let err = |source| Error::Polars {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut df = ParquetReader::new(file).finish().map_err(err)?;
    df.rechunk_mut();
    rank_receivers(df, ranks).map_err(err)
}

/// `df` with its receiver codes replaced by their lexicographic rank (what
/// `hex_frame` needs to name the smallest id among ties).
fn rank_receivers(mut df: DataFrame, ranks: &[u32]) -> PolarsResult<DataFrame> {
    let rx: UInt32Chunked = df
        .column("rx")
        .and_then(|c| c.u32().cloned())?
        .iter()
        .map(|code| code.and_then(|c| ranks.get(c as usize).copied()))
        .collect();
    df.with_column(rx.with_name("rx".into()).into_column())?;
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_counts_stay_within_the_open_file_limit() {
        assert_eq!(partition_count(0, 3), 1);
        assert_eq!(partition_count(100_000_000, 3), 50);
        assert_eq!(partition_count(u64::MAX, 3), MAX_OPEN_FILES / 3);
        assert_eq!(partition_count(u64::MAX, 0), MAX_OPEN_FILES);
    }

    #[test]
    fn every_partition_gets_cells() {
        let mut seen = [0_u32; 7];
        for cell in 0x0892_1a00_0000_0000_u64..0x0892_1a00_0000_0000 + 7000 {
            seen[partition_of(cell << 8, 7)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 500), "{seen:?}");
    }
}
