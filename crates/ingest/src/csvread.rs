//! Reading large CSV files in parallel: the file is read in blocks, each block
//! cut at line ends outside quotes into one chunk per core, and the chunks are
//! parsed side by side and merged in order, so line numbers and row order are
//! exactly those of a sequential read.

use std::io::Read;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use csv::ByteRecord;
use std::borrow::Cow;
use std::ops::Range;

use hexcover_core::{IdPool, Link, LinkTable};
use rayon::prelude::*;

use crate::validate::check_link;
use crate::{Error, Reject, RejectReason, Rejection, Result};

/// Bytes read per block; memory holds about one block besides the links.
const BLOCK_BYTES: usize = 32 << 20;
/// A block may grow to this many bytes while no line end outside quotes is found.
const MAX_LINE_BYTES: usize = 64 << 20;
/// Longest field accepted; longer ones are a malformed file, not data.
pub(crate) const MAX_FIELD_BYTES: usize = 64 << 10;

/// Why a row did not become a link.
pub(crate) enum RowError {
    /// The row is rejected; the file goes on.
    Reject(Rejection),
    /// The file is unusable from here on.
    Fatal(Error),
}

impl From<Rejection> for RowError {
    fn from(r: Rejection) -> Self {
        Self::Reject(r)
    }
}

/// A parsed row: the link, with ids still borrowed from the record.
pub(crate) struct ParsedRow<'r> {
    pub link: Link,
    pub tx_id: Option<&'r str>,
    pub rx_id: Option<&'r str>,
    pub invalid_reason: Option<&'r str>,
}

/// One CSV record with its line and the file's column names, giving typed
/// access that turns problems into rejections or errors naming the field.
pub(crate) struct Row<'r> {
    pub fields: Fields<'r>,
    /// The record's bytes as one string (validated once per record).
    pub text: &'r str,
    pub line: u64,
    pub path: &'r Path,
    pub columns: &'r [String],
}

impl<'r> Row<'r> {
    /// The trimmed text of column `idx`; `None` when absent or empty.
    pub fn text(&self, idx: Option<usize>) -> std::result::Result<Option<&'r str>, RowError> {
        let Some(range) = idx.and_then(|i| self.fields.range(i)) else {
            return Ok(None);
        };
        // `check_fields` validated the record as a whole; a field boundary
        // inside a character means a field itself is not UTF-8.
        let text = self.text.get(range).ok_or_else(|| {
            RowError::Fatal(Error::malformed(
                self.path,
                self.line,
                self.name(idx),
                "not valid UTF-8",
            ))
        })?;
        let text = trim(text);
        Ok((!text.is_empty()).then_some(text))
    }

    /// A required text column.
    pub fn required_text(&self, idx: usize) -> std::result::Result<&'r str, RowError> {
        self.text(Some(idx))?.ok_or_else(|| self.missing(idx))
    }

    /// An optional finite number.
    pub fn number(&self, idx: Option<usize>) -> std::result::Result<Option<f64>, RowError> {
        let Some(text) = self.text(idx)? else {
            return Ok(None);
        };
        match parse_f64(text) {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(RowError::Reject(Rejection::new(
                RejectReason::NonNumeric,
                format!("{} = {text:?} is not a number", self.name(idx)),
            ))),
        }
    }

    /// A required finite number.
    pub fn required_number(&self, idx: usize) -> std::result::Result<f64, RowError> {
        self.number(Some(idx))?.ok_or_else(|| self.missing(idx))
    }

    /// An optional integer (written as an integer or an integral float).
    pub fn integer(&self, idx: Option<usize>) -> std::result::Result<Option<i64>, RowError> {
        let Some(text) = self.text(idx)? else {
            return Ok(None);
        };
        if let Ok(v) = text.parse::<i64>() {
            return Ok(Some(v));
        }
        match parse_f64(text) {
            #[allow(clippy::cast_possible_truncation)]
            Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e18 => Ok(Some(v as i64)),
            _ => Err(RowError::Reject(Rejection::new(
                RejectReason::NonNumeric,
                format!("{} = {text:?} is not an integer", self.name(idx)),
            ))),
        }
    }

    /// An optional boolean: true/false, 1/0, yes/no; `default` when empty.
    pub fn boolean(
        &self,
        idx: Option<usize>,
        default: bool,
    ) -> std::result::Result<bool, RowError> {
        let Some(text) = self.text(idx)? else {
            return Ok(default);
        };
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "t" => Ok(true),
            "false" | "0" | "no" | "f" => Ok(false),
            _ => Err(RowError::Reject(Rejection::new(
                RejectReason::NonNumeric,
                format!("{} = {text:?} is not a boolean", self.name(idx)),
            ))),
        }
    }

    fn name(&self, idx: Option<usize>) -> &str {
        idx.and_then(|i| self.columns.get(i))
            .map_or("-", String::as_str)
    }

    fn missing(&self, idx: usize) -> RowError {
        RowError::Reject(Rejection::new(
            RejectReason::MissingField,
            format!("{} is empty or absent", self.name(Some(idx))),
        ))
    }
}

/// A decimal number as `str::parse::<f64>` reads it (the same syntax, the
/// same correctly rounded value; `inf`/`nan` pass and are rejected as not
/// finite by the callers), in about half the time.
/// `text.trim()`, without walking characters in the common case of a field
/// that neither starts nor ends with whitespace (a visible ASCII character
/// at each end: every Unicode whitespace is below `!` or outside ASCII).
fn trim(text: &str) -> &str {
    let visible = |b: &u8| (b'!'..0x80).contains(b);
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if visible(first) && visible(last) => text,
        _ => text.trim(),
    }
}

fn parse_f64(text: &str) -> std::result::Result<f64, fast_float2::Error> {
    fast_float2::parse(text)
}

/// What turns a CSV record into a link; shared by the parallel workers.
pub(crate) trait RowParser: Sync {
    /// Parse one record. Validation common to all links runs afterwards.
    fn parse<'r>(&self, row: &Row<'r>) -> std::result::Result<ParsedRow<'r>, RowError>;
}

/// Links, rejects and the row count of one chunk or file.
#[derive(Default)]
pub(crate) struct Parsed {
    pub table: LinkTable,
    pub rejects: Vec<Reject>,
    pub rows_read: u64,
    /// Records that hold no reception (not rows): see `InputSummary`.
    pub records_skipped: u64,
}

/// A CSV file opened past its header.
pub(crate) struct CsvFile {
    path: std::path::PathBuf,
    input_name: String,
    file: std::fs::File,
    /// Bytes read but not yet parsed (starts after the header).
    pending: Vec<u8>,
    /// The 1-based line of the first byte of `pending`.
    next_line: u64,
    eof: bool,
    /// The column names, trimmed.
    pub columns: Vec<String>,
    /// Bytes consumed so far (for progress).
    pub bytes_done: u64,
    /// Bytes read per block (`BLOCK_BYTES` but in tests of the streaming path).
    block_bytes: usize,
}

impl CsvFile {
    /// Open `path` and read its header line.
    ///
    /// # Errors
    /// Unreadable, empty or header-less files; a header that is not
    /// comma-separated or not UTF-8.
    pub fn open(path: &Path, input_name: &str) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut this = Self {
            path: path.to_owned(),
            input_name: input_name.to_owned(),
            file,
            pending: Vec::new(),
            next_line: 1,
            eof: false,
            columns: Vec::new(),
            bytes_done: 0,
            block_bytes: BLOCK_BYTES,
        };
        this.fill(BLOCK_BYTES.min(1 << 20))?;
        if this.pending.starts_with(b"\xEF\xBB\xBF") {
            this.pending.drain(..3);
        }
        if this.pending.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::unusable(path, "the file is empty (no header line)"));
        }
        let header_end = loop {
            if let Some(end) = memchr::memchr(b'\n', &this.pending) {
                break end + 1;
            }
            if this.eof {
                break this.pending.len();
            }
            if this.pending.len() > MAX_FIELD_BYTES {
                return Err(Error::malformed(
                    path,
                    1,
                    "-",
                    "header line longer than 64 KiB",
                ));
            }
            this.fill(BLOCK_BYTES)?;
        };
        let header: Vec<u8> = this.pending.drain(..header_end).collect();
        this.bytes_done = header_end as u64;
        this.next_line = 2;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(header.as_slice());
        let mut record = ByteRecord::new();
        reader
            .read_byte_record(&mut record)
            .map_err(|e| Error::malformed(path, 1, "-", e.to_string()))?;
        for (i, field) in record.iter().enumerate() {
            let name = std::str::from_utf8(field).map_err(|_| {
                Error::malformed(
                    path,
                    1,
                    &format!("column {}", i + 1),
                    "header is not valid UTF-8",
                )
            })?;
            this.columns.push(name.trim().to_owned());
        }
        if this.columns.len() == 1
            && let Some(message) = delimiter_problem(&this.columns[0])
        {
            return Err(Error::malformed(path, 1, &this.columns[0], message));
        }
        Ok(this)
    }

    /// Index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    fn fill(&mut self, want: usize) -> Result<()> {
        fill_from(
            &mut self.file,
            &mut self.pending,
            &mut self.eof,
            &self.path,
            want,
        )
    }

    /// Read blocks of about `bytes` (at least 1 KiB) instead of 32 MiB: the
    /// tests of the streaming path use small blocks to get many of them.
    pub fn with_block_bytes(mut self, bytes: usize) -> Self {
        self.block_bytes = bytes.max(1 << 10);
        self
    }

    /// Parse every remaining row with `parser`, in parallel when `parallel`.
    /// `progress` gets the bytes consumed so far after each block.
    ///
    /// # Errors
    /// The first fatal problem in file order.
    pub fn parse_all(
        self,
        parser: &dyn RowParser,
        parallel: bool,
        progress: &dyn Fn(u64),
    ) -> Result<Parsed> {
        let mut out = Parsed::default();
        out.table.add_input(&self.input_name);
        let ids = SharedIds::default();
        self.parse_blocks(parser, parallel, Some(&ids), progress, &mut |part| {
            // The parts' codes are codes of `ids` already.
            let same = |code: u32| code;
            out.table.append_with_codes(&part.table, same, same, same);
            out.rejects.extend(part.rejects);
            out.rows_read += part.rows_read;
            Ok(())
        })?;
        [out.table.tx_ids, out.table.rx_ids, out.table.reasons] = ids.into_pools();
        out.table.renumber_ids_by_first_use();
        Ok(out)
    }

    /// Parse every remaining row with `parser`, handing the rows of each block
    /// to `sink` in file order (one `Parsed` per chunk of a block, rows
    /// numbered by line): memory holds one block, not the file. With `ids`,
    /// the parts' id codes are codes of those shared pools (and their own
    /// pools are empty); without, each part has pools of its own.
    ///
    /// # Errors
    /// The first fatal problem in file order, or the sink's error.
    pub fn parse_blocks(
        mut self,
        parser: &dyn RowParser,
        parallel: bool,
        ids: Option<&SharedIds>,
        progress: &dyn Fn(u64),
        sink: &mut (dyn FnMut(Parsed) -> Result<()> + Send),
    ) -> Result<()> {
        // A pipeline of three: while the workers parse block k, one of them
        // hands block k − 1's parts to the sink (merging ids, writing) and
        // reads block k + 1, so the sequential steps do not idle the cores.
        let mut parsed: Vec<Result<Parsed>> = Vec::new();
        let mut parsed_bytes = 0_u64;
        let mut spare: Vec<u8> = Vec::new();
        if !self.eof {
            self.fill(self.block_bytes)?;
        }
        loop {
            let pieces = if parallel {
                rayon::current_num_threads() * 2
            } else {
                1
            };
            let targets: Vec<usize> = (1..pieces)
                .map(|j| self.pending.len() * j / pieces)
                .collect();
            let scan = scan_records(&self.pending, &targets);
            if self.eof
                && let Some(offset) = scan.open_quote
            {
                sink_in_order(std::mem::take(&mut parsed), sink)?;
                let line = self.next_line
                    + memchr::memchr_iter(b'\n', &self.pending[..offset]).count() as u64;
                return Err(Error::malformed(
                    &self.path,
                    line,
                    "-",
                    "a quote opened here is never closed (the rest of the file would be one field)",
                ));
            }
            let cut = match scan.last_end {
                _ if self.eof => self.pending.len(),
                Some(cut) => cut,
                None if self.pending.len() > MAX_LINE_BYTES => {
                    sink_in_order(std::mem::take(&mut parsed), sink)?;
                    return Err(Error::malformed(
                        &self.path,
                        self.next_line,
                        "-",
                        "no line end within 64 MiB (an unclosed quote or a huge field)",
                    ));
                }
                None => {
                    self.fill(self.block_bytes)?;
                    continue;
                }
            };
            // The block becomes a buffer of its own and the rest moves to
            // the previous block's buffer: no copy of the block, no new
            // allocation (fresh pages cost a fault and a zeroing each).
            let mut rest = std::mem::take(&mut spare);
            rest.clear();
            rest.extend_from_slice(&self.pending[cut..]);
            self.pending.truncate(cut);
            let block = std::mem::replace(&mut self.pending, rest);
            let mut bounds = vec![0];
            bounds.extend(scan.cuts.into_iter().filter(|&c| c > 0 && c < cut));
            bounds.dedup();
            bounds.push(cut);
            let chunks: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
            let mut first_lines = Vec::with_capacity(chunks.len());
            let mut line = self.next_line;
            for &(start, end) in &chunks {
                first_lines.push(line);
                line += memchr::memchr_iter(b'\n', &block[start..end]).count() as u64;
            }
            let ctx = ChunkContext {
                path: &self.path,
                input_name: &self.input_name,
                columns: &self.columns,
                parser,
                ids,
            };
            let previous = std::mem::take(&mut parsed);
            let (results, sunk_and_read) = rayon::join(
                || -> Vec<Result<Parsed>> {
                    chunks
                        .par_iter()
                        .zip(first_lines.par_iter())
                        .map(|(&(start, end), &first_line)| {
                            ctx.parse_chunk(&block[start..end], first_line)
                        })
                        .collect()
                },
                || -> Result<()> {
                    sink_in_order(previous, sink)?;
                    if !self.eof {
                        fill_from(
                            &mut self.file,
                            &mut self.pending,
                            &mut self.eof,
                            &self.path,
                            self.block_bytes,
                        )?;
                    }
                    Ok(())
                },
            );
            sunk_and_read?;
            if parsed_bytes > 0 {
                progress(parsed_bytes);
            }
            parsed = results;
            self.next_line = line;
            self.bytes_done += block.len() as u64;
            spare = block;
            parsed_bytes = self.bytes_done;
            if self.eof && self.pending.is_empty() {
                break;
            }
        }
        sink_in_order(parsed, sink)?;
        progress(parsed_bytes);
        Ok(())
    }
}

/// Hand parsed parts to `sink` in file order, stopping at the first error.
fn sink_in_order(
    parts: Vec<Result<Parsed>>,
    sink: &mut (dyn FnMut(Parsed) -> Result<()> + Send),
) -> Result<()> {
    for part in parts {
        sink(part?)?;
    }
    Ok(())
}

/// Append up to `want` bytes of `file` to `pending`; sets `eof` at its end.
fn fill_from(
    file: &mut std::fs::File,
    pending: &mut Vec<u8>,
    eof: &mut bool,
    path: &Path,
    want: usize,
) -> Result<()> {
    // Into spare capacity: zeroing a 32 MiB buffer before every read cost
    // as much as parsing a few columns.
    pending.reserve(want);
    let got = file
        .take(want as u64)
        .read_to_end(pending)
        .map_err(|e| Error::io(path, e))?;
    // `take` stops short of `want` only at the end of the file.
    if got < want {
        *eof = true;
    }
    Ok(())
}

struct ChunkContext<'a> {
    path: &'a Path,
    input_name: &'a str,
    columns: &'a [String],
    parser: &'a dyn RowParser,
    ids: Option<&'a SharedIds>,
}

/// Transmitter, receiver and reason pools shared by the chunks of one file.
/// A chunk codes its links against them, so merging chunks copies codes
/// instead of re-interning every id once per chunk (tens of thousands of
/// device ids × hundreds of chunks on large files).
#[derive(Default)]
pub(crate) struct SharedIds {
    pools: [RwLock<IdPool>; 3],
}

/// Marks a chunk's provisional code of an id that the shared pool lacked.
const NEW_ID: u32 = 1 << 31;

impl SharedIds {
    /// The pools: transmitters, receivers, reasons.
    pub fn into_pools(self) -> [IdPool; 3] {
        self.pools
            .map(|p| p.into_inner().unwrap_or_else(PoisonError::into_inner))
    }

    /// A copy of the pools as they are now: transmitters, receivers, reasons.
    pub fn snapshot(&self) -> [IdPool; 3] {
        self.pools
            .each_ref()
            .map(|p| p.read().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// Code `table`'s ids (tx, rx, reasons) against the shared pools.
    /// `table`'s own pools hold only the ids the shared pools lacked, with
    /// provisional codes `NEW_ID | local code`; they are added under one
    /// write lock per pool and the table's codes rewritten. Chunks look ids
    /// up under a read lock held for the whole chunk, not per row.
    fn publish(&self, table: &mut LinkTable) {
        let locals = [
            std::mem::take(&mut table.tx_ids),
            std::mem::take(&mut table.rx_ids),
            std::mem::take(&mut table.reasons),
        ];
        let maps: Vec<Vec<u32>> = locals
            .iter()
            .zip(&self.pools)
            .map(|(local, pool)| {
                if local.is_empty() {
                    return Vec::new();
                }
                let mut pool = pool.write().unwrap_or_else(PoisonError::into_inner);
                local.names().iter().map(|n| pool.intern(n)).collect()
            })
            .collect();
        let final_code = |map: &[u32]| {
            let map = map.to_vec();
            move |code: u32| {
                if code & NEW_ID == 0 {
                    code
                } else {
                    map.get((code & !NEW_ID) as usize).copied().unwrap_or(code)
                }
            }
        };
        if !maps[0].is_empty() {
            table.tx_id.map_in_place(final_code(&maps[0]));
        }
        if !maps[1].is_empty() {
            table.rx_id.map_in_place(final_code(&maps[1]));
        }
        if !maps[2].is_empty() {
            table.invalid_reason.map_in_place(final_code(&maps[2]));
        }
    }
}

/// The code of `name`: the shared pool's, or a provisional one from `local`.
fn code_of(shared: Option<&IdPool>, local: &mut IdPool, name: &str) -> u32 {
    match shared {
        Some(pool) => pool
            .code(name)
            .unwrap_or_else(|| NEW_ID | local.intern(name)),
        None => local.intern(name),
    }
}

impl ChunkContext<'_> {
    fn parse_chunk(&self, bytes: &[u8], first_line: u64) -> Result<Parsed> {
        let mut out = Parsed::default();
        out.table.add_input(self.input_name);
        // Room for the rows without counting them first: a link-table row
        // takes well over 40 bytes, and capacity never touched costs no memory.
        out.table.reserve(bytes.len() / 40 + 1);
        let mut reader = Records::new(bytes);
        let mut ranges = Vec::new();
        let mut lines = LineCounter::new(bytes, first_line);
        let guards = self.ids.map(|ids| {
            ids.pools
                .each_ref()
                .map(|p| p.read().unwrap_or_else(PoisonError::into_inner))
        });
        let shared: [Option<&IdPool>; 3] = match &guards {
            Some([tx, rx, reasons]) => [Some(tx), Some(rx), Some(reasons)],
            None => [None; 3],
        };
        // In a chunk that is UTF-8 throughout (the quote-free ones: ids are
        // slices of it) the ids are coded after the rows, in one tight loop:
        // a lookup in a pool of 10^4-10^5 ids is a likely cache miss, and
        // consecutive independent lookups overlap their misses, where one
        // lookup between the parsing of two rows waits alone. The rows get
        // the id's place in `deferred` as a provisional code meanwhile.
        let chunk_text = match reader {
            Records::Plain(_) => std::str::from_utf8(bytes).ok(),
            Records::Csv(..) => None,
        };
        let mut deferred: [Vec<Cow<'_, str>>; 2] = [Vec::new(), Vec::new()];
        let mut defer = |s: &str, list: usize| -> u32 {
            let id = chunk_text
                .and_then(|text| {
                    let offset = s.as_ptr().addr().checked_sub(text.as_ptr().addr())?;
                    text.get(offset..offset + s.len())
                })
                .filter(|inside| inside.as_ptr() == s.as_ptr())
                .map_or_else(|| Cow::Owned(s.to_owned()), Cow::Borrowed);
            deferred[list].push(id);
            u32::try_from(deferred[list].len() - 1).unwrap_or(u32::MAX)
        };
        while let Some((line, fields)) = reader.next(&mut ranges, &mut lines, self.path)? {
            out.rows_read += 1;
            let text = check_fields(fields, self.columns, self.path, line)?;
            let row = Row {
                fields,
                text,
                line,
                path: self.path,
                columns: self.columns,
            };
            let outcome = if fields.len() == self.columns.len() {
                self.parser.parse(&row)
            } else {
                Err(RowError::Reject(Rejection::new(
                    RejectReason::WrongFieldCount,
                    format!(
                        "{} fields where the header has {}",
                        fields.len(),
                        self.columns.len()
                    ),
                )))
            };
            let checked = outcome.and_then(|p| match check_link(&p.link) {
                Ok(()) => Ok(p),
                Err(r) => Err(RowError::Reject(r)),
            });
            match checked {
                Ok(p) => {
                    let t = &mut out.table;
                    let (tx, rx) = if chunk_text.is_some() {
                        (p.tx_id.map(|s| defer(s, 0)), p.rx_id.map(|s| defer(s, 1)))
                    } else {
                        (
                            p.tx_id.map(|s| code_of(shared[0], &mut t.tx_ids, s)),
                            p.rx_id.map(|s| code_of(shared[1], &mut t.rx_ids, s)),
                        )
                    };
                    let reason = p
                        .invalid_reason
                        .map(|s| code_of(shared[2], &mut t.reasons, s));
                    t.push_coded(&p.link, tx, rx, reason, line);
                }
                Err(RowError::Reject(r)) => out.rejects.push(Reject {
                    input: self.input_name.to_owned(),
                    row: line.to_string(),
                    reason: r.reason,
                    detail: r.detail,
                    original: fields.to_line(),
                }),
                Err(RowError::Fatal(e)) => return Err(e),
            }
        }
        if chunk_text.is_some() {
            let t = &mut out.table;
            let [tx_ids, rx_ids] = deferred;
            let tx: Vec<u32> = tx_ids
                .iter()
                .map(|s| code_of(shared[0], &mut t.tx_ids, s))
                .collect();
            let rx: Vec<u32> = rx_ids
                .iter()
                .map(|s| code_of(shared[1], &mut t.rx_ids, s))
                .collect();
            t.tx_id.map_in_place(|i| tx[i as usize]);
            t.rx_id.map_in_place(|i| rx[i as usize]);
        }
        drop(guards);
        if let Some(ids) = self.ids {
            ids.publish(&mut out.table);
        }
        Ok(out)
    }
}

/// Why a one-column header is probably not comma-separated, if it is not.
pub(crate) fn delimiter_problem(header: &str) -> Option<String> {
    [(';', "semicolon"), ('\t', "tab"), ('|', "pipe")]
        .into_iter()
        .find(|(sep, _)| header.contains(*sep))
        .map(|(_, name)| {
            format!("the header is {name}-separated; hexcover reads comma-separated CSV")
        })
}

/// The 1-based line where each record of a buffer starts. csv's own
/// positions lag one line behind after CRLF line ends, so lines are counted
/// here, incrementally (records come in order).
pub(crate) struct LineCounter<'b> {
    bytes: &'b [u8],
    counted_to: usize,
    line: u64,
}

impl<'b> LineCounter<'b> {
    /// `first_line` is the line of `bytes[0]`.
    pub fn new(bytes: &'b [u8], first_line: u64) -> Self {
        Self {
            bytes,
            counted_to: 0,
            line: first_line,
        }
    }

    /// The line at byte offset `byte`, skipping line ends left before a record.
    pub fn line_at(&mut self, byte: u64) -> u64 {
        let mut at = usize::try_from(byte)
            .unwrap_or(self.bytes.len())
            .clamp(self.counted_to, self.bytes.len());
        while at < self.bytes.len() && matches!(self.bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        self.line += memchr::memchr_iter(b'\n', &self.bytes[self.counted_to..at]).count() as u64;
        self.counted_to = at;
        self.line
    }

    /// The line where `record` starts.
    pub fn line_of(&mut self, record: &ByteRecord) -> u64 {
        let byte = record
            .position()
            .map_or(self.counted_to as u64, csv::Position::byte);
        self.line_at(byte)
    }
}

/// Every field of a record, read or not, must be at most 64 KiB and the
/// record valid UTF-8 (checked once for all fields); returns its text.
pub(crate) fn check_fields<'r>(
    fields: Fields<'r>,
    columns: &[String],
    path: &Path,
    line: u64,
) -> Result<&'r str> {
    let name = |i: usize| {
        columns
            .get(i)
            .map_or_else(|| format!("column {}", i + 1), Clone::clone)
    };
    for (i, range) in fields.ranges.iter().enumerate() {
        if range.len() > MAX_FIELD_BYTES {
            return Err(Error::malformed(
                path,
                line,
                &name(i),
                format!("field is {} bytes, more than the 64 KiB limit", range.len()),
            ));
        }
    }
    std::str::from_utf8(fields.bytes).map_err(|e| {
        let at = e.valid_up_to();
        let field = fields
            .ranges
            .iter()
            .position(|r| r.contains(&at))
            .unwrap_or(0);
        let start = fields.range(field).map_or(0, |r| r.start);
        Error::malformed(
            path,
            line,
            &name(field),
            format!("not valid UTF-8 (byte {} of the field)", at - start),
        )
    })
}

/// One record's fields as byte ranges of one string: a csv `ByteRecord`'s
/// bytes, or a quote-free line as it stands (commas between the ranges).
#[derive(Clone, Copy)]
pub(crate) struct Fields<'r> {
    pub bytes: &'r [u8],
    pub ranges: &'r [Range<usize>],
}

impl<'r> Fields<'r> {
    /// The fields of a csv record; `ranges` is the buffer they go in.
    pub fn of_record(record: &'r ByteRecord, ranges: &'r mut Vec<Range<usize>>) -> Self {
        ranges.clear();
        ranges.extend((0..record.len()).filter_map(|i| record.range(i)));
        Self {
            bytes: record.as_slice(),
            ranges,
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Byte range of field `i` in `bytes`.
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        self.ranges.get(i).cloned()
    }

    fn iter(&self) -> impl Iterator<Item = &'r [u8]> + '_ {
        self.ranges.iter().map(|r| &self.bytes[r.clone()])
    }

    /// The record written back as one CSV line, quoted where needed.
    pub fn to_line(self) -> String {
        record_as_line(&self.iter().collect::<ByteRecord>())
    }
}

/// The records of a chunk that starts at a record start.
enum Records<'b> {
    /// The csv crate, for chunks with quotes.
    Csv(csv::Reader<&'b [u8]>, ByteRecord),
    /// Chunks without a quote byte, split at commas and line ends directly.
    Plain(PlainRecords<'b>),
}

impl<'b> Records<'b> {
    fn new(bytes: &'b [u8]) -> Self {
        if memchr::memchr(b'"', bytes).is_none() {
            return Self::Plain(PlainRecords { bytes, at: 0 });
        }
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        Self::Csv(reader, ByteRecord::new())
    }

    /// The next record's line and fields (in `ranges`), or `None` at the
    /// end; as [`next_record`].
    fn next<'s>(
        &'s mut self,
        ranges: &'s mut Vec<Range<usize>>,
        lines: &mut LineCounter<'_>,
        path: &Path,
    ) -> Result<Option<(u64, Fields<'s>)>> {
        match self {
            Self::Csv(reader, record) => Ok(next_record(reader, record, lines, path)?
                .map(|line| (line, Fields::of_record(record, ranges)))),
            Self::Plain(plain) => Ok(plain.next(ranges).map(|(start, bytes)| {
                let fields = Fields { bytes, ranges };
                (lines.line_at(start as u64), fields)
            })),
        }
    }
}

/// Records of quote-free CSV bytes, exactly as the csv crate reads them
/// (`flexible`, no headers; checked against it by a property test): fields
/// end at `,`, records at `\n`, `\r` or `\r\n`, and empty lines are skipped.
/// The csv crate's byte-at-a-time state machine and the copy into its
/// record were the costliest steps of parsing; without quotes there is
/// nothing to unescape, so the fields stay where they are.
struct PlainRecords<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> PlainRecords<'b> {
    /// The next record's start and bytes, its field ranges (relative to
    /// those bytes) in `ranges`; `None` at the end.
    fn next(&mut self, ranges: &mut Vec<Range<usize>>) -> Option<(usize, &'b [u8])> {
        let bytes = self.bytes;
        while self.at < bytes.len() && matches!(bytes[self.at], b'\n' | b'\r') {
            self.at += 1;
        }
        if self.at >= bytes.len() {
            return None;
        }
        let start = self.at;
        let end = memchr::memchr2(b'\n', b'\r', &bytes[start..]).map_or(bytes.len(), |k| start + k);
        self.at = end;
        let line = &bytes[start..end];
        ranges.clear();
        let mut field_start = 0;
        for comma in memchr::memchr_iter(b',', line) {
            ranges.push(field_start..comma);
            field_start = comma + 1;
        }
        ranges.push(field_start..line.len());
        Some((start, line))
    }
}

/// Read the next record; its line, or `None` at the end. A CSV syntax error
/// is an error naming the line.
pub(crate) fn next_record(
    reader: &mut csv::Reader<&[u8]>,
    record: &mut ByteRecord,
    lines: &mut LineCounter<'_>,
    path: &Path,
) -> Result<Option<u64>> {
    match reader.read_byte_record(record) {
        Ok(false) => Ok(None),
        Ok(true) => Ok(Some(lines.line_of(record))),
        Err(e) => {
            let line = lines.line_at(reader.position().byte());
            Err(Error::malformed(path, line, "-", e.to_string()))
        }
    }
}

/// The record written back as one CSV line, quoted where needed.
pub(crate) fn record_as_line(record: &ByteRecord) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if writer.write_byte_record(record).is_err() {
        return String::new();
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .trim_end_matches('\n')
        .to_owned()
}

/// Where records end in a buffer that starts at a record start.
#[derive(Debug, PartialEq, Eq)]
struct RecordScan {
    /// For each target offset, the end of the first record ending at or after
    /// it (ascending; fewer when the buffer ends first).
    cuts: Vec<usize>,
    /// The end of the last complete record (just after its `\n`).
    last_end: Option<usize>,
    /// Where a quoted field opens that the buffer never closes.
    open_quote: Option<usize>,
}

/// Find record ends by the csv crate's quoting rules: a quote opens a quoted
/// field only as a field's first byte, a quote in the middle of a field is
/// data, and `""` inside a quoted field is an escaped quote. Buffers without
/// any quote take a fast path.
fn scan_records(buf: &[u8], targets: &[usize]) -> RecordScan {
    if memchr::memchr(b'"', buf).is_none() {
        let cuts = targets
            .iter()
            .filter_map(|&t| memchr::memchr(b'\n', &buf[t.min(buf.len())..]).map(|i| t + i + 1))
            .collect();
        let last_end = memchr::memrchr(b'\n', buf).map(|i| i + 1);
        return RecordScan {
            cuts,
            last_end,
            open_quote: None,
        };
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let mut cuts = Vec::with_capacity(targets.len());
    let mut next_target = targets.iter().peekable();
    let mut last_end = None;
    let mut open_quote = None;
    for (i, &b) in buf.iter().enumerate() {
        state = match (state, b) {
            (State::FieldStart, b'"') => {
                open_quote = Some(i);
                State::Quoted
            }
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b',') => State::FieldStart,
            (_, b'\n') => {
                let end = i + 1;
                last_end = Some(end);
                while next_target.peek().is_some_and(|&&t| t <= i) {
                    next_target.next();
                    if cuts.last() != Some(&end) {
                        cuts.push(end);
                    }
                }
                State::FieldStart
            }
            _ => State::Unquoted,
        };
    }
    RecordScan {
        cuts,
        last_end,
        open_quote: (state == State::Quoted).then_some(open_quote).flatten(),
    }
}

/// Reject a whole small CSV file whose quotes never close (the csv crate
/// would read the rest of the file as one field).
pub(crate) fn check_quotes(bytes: &[u8], path: &Path) -> Result<()> {
    match scan_records(bytes, &[]).open_quote {
        Some(offset) => Err(Error::malformed(
            path,
            1 + memchr::memchr_iter(b'\n', &bytes[..offset]).count() as u64,
            "-",
            "a quote opened here is never closed (the rest of the file would be one field)",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ends_follow_csv_quoting() {
        // A quoted field with a line end and an escaped quote, then a quote in
        // the middle of an unquoted field (data, not quoting).
        let buf = b"a,b\n\"x\ny\"\"\",2\nc,gw\"1\nd,4\n";
        let scan = scan_records(buf, &[5, 9, 15]);
        assert_eq!(scan.open_quote, None);
        assert_eq!(scan.last_end, Some(buf.len()));
        // Target 5 lies inside the quoted field: the cut is after its record.
        assert_eq!(scan.cuts, vec![14, 21]);
        let plain = scan_records(b"a\nb\nc", &[1, 3]);
        assert_eq!((plain.cuts, plain.last_end), (vec![2, 4], Some(4)));
    }

    #[test]
    fn unclosed_quotes_are_found() {
        assert_eq!(scan_records(b"a,b\n\"c\"\"d\",e\n", &[]).open_quote, None);
        assert_eq!(scan_records(b"a,b\nc,\"d\ne,f\n", &[]).open_quote, Some(6));
        assert_eq!(scan_records(b"a,gw\"x\nb,c\n", &[]).open_quote, None);
        assert_eq!(scan_records(b"a\nb\"c\nd", &[]).last_end, Some(6));
    }

    #[test]
    fn line_numbers_hold_with_crlf_blank_lines_and_quoted_newlines() {
        for bytes in [
            &b"h\r\na\r\nb\r\n\r\nc\r\n\"d\r\nd\"\r\ne\r\n"[..],
            &b"h\na\nb\n\nc\n\"d\nd\"\ne\n"[..],
        ] {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(bytes);
            let mut lines = LineCounter::new(bytes, 1);
            let mut record = ByteRecord::new();
            let mut got = Vec::new();
            while reader.read_byte_record(&mut record).unwrap() {
                got.push((
                    lines.line_of(&record),
                    String::from_utf8_lossy(&record[0]).into_owned(),
                ));
            }
            let want: Vec<(u64, String)> = [
                (1, "h"),
                (2, "a"),
                (3, "b"),
                (5, "c"),
                (6, "d\r\nd"),
                (8, "e"),
            ]
            .iter()
            .map(|&(l, s)| {
                (
                    l,
                    if bytes.contains(&b'\r') {
                        s.to_owned()
                    } else {
                        s.replace('\r', "")
                    },
                )
            })
            .collect();
            assert_eq!(got, want);
        }
    }

    /// (fields, line) of every record, read by `records`.
    fn read_all(bytes: &[u8], mut records: Records<'_>) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut lines = LineCounter::new(bytes, 7);
        let mut ranges = Vec::new();
        let mut out = Vec::new();
        while let Some((line, fields)) = records
            .next(&mut ranges, &mut lines, Path::new("t.csv"))
            .unwrap()
        {
            out.push((fields.iter().map(<[u8]>::to_vec).collect(), line));
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn quote_free_records_read_as_the_csv_crate_reads_them(
            text in "[a1 ,\r\né]{0,40}"
        ) {
            let bytes = text.as_bytes();
            let csv = Records::Csv(
                csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(bytes),
                ByteRecord::new(),
            );
            let plain = Records::new(bytes);
            proptest::prop_assert!(matches!(plain, Records::Plain(_)));
            proptest::prop_assert_eq!(read_all(bytes, plain), read_all(bytes, csv));
        }
    }

    proptest::proptest! {
        #[test]
        fn trim_trims_as_the_standard_library_does(
            text in "[ \t\r\n\u{b}\u{c}\u{1c}\u{85}\u{a0}\u{2003}\u{3000}a-z0-9.,ü-]{0,8}"
        ) {
            proptest::prop_assert_eq!(trim(&text), text.trim());
        }
    }

    #[test]
    fn numbers_parse_as_the_standard_library_parses_them() {
        let cases = [
            "0",
            "-0",
            "48.398508",
            "-112.5",
            "+3",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            "-1.5e+2",
            "868.1",
            "0.1",
            "1e308",
            "1e309",
            "4.9e-324",
            "1e-400",
            "inf",
            "-inf",
            "infinity",
            "NaN",
            "nan",
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1.2.3",
            "1,5",
            "0x10",
            "1_000",
            "12abc",
            "--1",
            "١",
            "9007199254740993",
            "2.2250738585072011e-308",
        ];
        for text in cases {
            let ours = parse_f64(text).ok();
            let std = text.parse::<f64>().ok();
            assert_eq!(
                ours.map(f64::to_bits),
                std.map(f64::to_bits),
                "{text:?}: {ours:?} vs {std:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_decimal_parses_as_the_standard_library_parses_it(
            text in "[-+]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{1,3})?"
        ) {
            let ours = parse_f64(&text).ok().map(f64::to_bits);
            let std = text.parse::<f64>().ok().map(f64::to_bits);
            proptest::prop_assert_eq!(ours, std, "{:?}", text);
        }
    }
}
