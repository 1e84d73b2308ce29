//! hexcover's generic link table as Parquet (what `links.parquet` holds):
//! the same columns as the CSV form; extra columns ignored.

use std::path::Path;

use hexcover_core::Link;
use polars::prelude::*;
use rayon::prelude::*;

use crate::csvread::{Parsed, RowError};
use crate::dedupe::Seen;
use crate::links_csv::{OPTIONAL_LINK_COLUMNS, REQUIRED_LINK_COLUMNS, check_required_columns};
use crate::validate::check_link;
use crate::{Error, Reject, RejectReason, Rejection, Result};

/// Read a link-table Parquet file.
pub(crate) fn read_links_parquet(path: &Path, input_name: &str, seen: &Seen) -> Result<Parsed> {
    let polars_err = |source| Error::Polars {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let df = ParquetReader::new(file).finish().map_err(polars_err)?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    check_required_columns(path, 0, |c| names.iter().any(|n| n == c))?;
    validate_frame(&df, path, input_name, seen, 0)
}

/// A link-table Parquet file read a few row groups at a time, for the
/// streaming ingest.
///
/// polars' `ParquetReader` memory-maps the whole file, which under an
/// address-space limit (`ulimit -v`) costs as much as reading it: a 3 GB
/// input would take most of a 4 GiB cap. So this reads the footer, then the
/// bytes of each row group with plain reads, and decodes them with polars'
/// own column decoder. Memory holds the row groups of one chunk.
pub(crate) struct ParquetChunks {
    file: std::fs::File,
    path: std::path::PathBuf,
    schema: std::sync::Arc<ArrowSchema>,
    metadata: FileMetadataRef,
    next_row_group: usize,
    chunk_rows: usize,
    /// The row group being handed on, and how far.
    buffer: Option<(DataFrame, usize)>,
}

impl ParquetChunks {
    /// Open `path` and check that it has the required columns.
    pub fn open(path: &Path, chunk_rows: usize) -> Result<Self> {
        let polars_err = |source| Error::Polars {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = ParquetReader::new(file.try_clone().map_err(|e| Error::io(path, e))?);
        let schema = reader.schema().map_err(polars_err)?;
        let metadata = reader.get_metadata().map_err(polars_err)?.clone();
        check_required_columns(path, 0, |c| schema.get(c).is_some())?;
        Ok(Self {
            file,
            path: path.to_owned(),
            schema,
            metadata,
            next_row_group: 0,
            chunk_rows: chunk_rows.max(1),
            buffer: None,
        })
    }

    /// Rows in the file (from the footer).
    pub fn total_rows(&self) -> u64 {
        self.metadata.num_rows as u64
    }

    /// The next at most `chunk_rows` rows, `None` at the end. A row group is
    /// read whole, then handed on in slices.
    pub fn next_frame(&mut self) -> Result<Option<DataFrame>> {
        loop {
            if let Some((df, offset)) = &mut self.buffer {
                if *offset < df.height() {
                    let n = self.chunk_rows.min(df.height() - *offset);
                    let piece = df.slice(i64::try_from(*offset).unwrap_or(i64::MAX), n);
                    *offset += n;
                    return Ok(Some(piece));
                }
                self.buffer = None;
            }
            if self.next_row_group >= self.metadata.row_groups.len() {
                return Ok(None);
            }
            let df = self.read_row_group(self.next_row_group)?;
            self.next_row_group += 1;
            self.buffer = Some((df, 0));
        }
    }

    fn polars_err(&self, source: PolarsError) -> Error {
        Error::Polars {
            path: self.path.clone(),
            source,
        }
    }

    fn read_row_group(&mut self, index: usize) -> Result<DataFrame> {
        use std::io::{Read, Seek, SeekFrom};
        let rg = &self.metadata.row_groups[index];
        let start = rg.byte_ranges_iter().map(|r| r.start).min().unwrap_or(0);
        let end = rg.byte_ranges_iter().map(|r| r.end).max().unwrap_or(start);
        let len = usize::try_from(end - start).map_err(|_| {
            Error::unusable(
                &self.path,
                format!("row group {index} is larger than memory"),
            )
        })?;
        let mut bytes = vec![0_u8; len];
        self.file
            .seek(SeekFrom::Start(start))
            .and_then(|_| self.file.read_exact(&mut bytes))
            .map_err(|e| Error::io(&self.path, e))?;
        let bytes = polars_buffer::Buffer::from_vec(bytes);
        let height = rg.num_rows();
        let mut columns = Vec::with_capacity(self.schema.len());
        for (name, field) in self.schema.iter() {
            let Some(metas) = rg.columns_under_root_iter(name) else {
                columns.push(Column::full_null(
                    name.clone(),
                    height,
                    &DataType::from_arrow_field(field),
                ));
                continue;
            };
            let parts = metas
                .map(|meta| {
                    let range = meta.byte_range();
                    let (from, to) = ((range.start - start) as usize, (range.end - start) as usize);
                    (meta, bytes.clone().sliced(from..to))
                })
                .collect();
            let (arrays, _) =
                polars::io::parquet::read::_internal::to_deserializer(parts, field.clone(), None)
                    .map_err(|e| self.polars_err(e))?;
            let series = Series::try_from((field, arrays)).map_err(|e| self.polars_err(e))?;
            columns.push(series.into_column());
        }
        DataFrame::new(height, columns).map_err(|e| self.polars_err(e))
    }
}

/// Rows below which a frame is validated on one thread.
const PARALLEL_MIN_ROWS: usize = 4_096;

/// Validate the rows of one frame of a link-table Parquet file; the first
/// row is record `first_record + 1`.
///
/// Large frames are cut into one piece per core, validated side by side and
/// merged in order: the same links, rejects and numbering as one pass. Not
/// when frames must be claimed in file order (frame counters with duplicate
/// detection on), where one thread goes through the rows.
pub(crate) fn validate_frame(
    df: &DataFrame,
    path: &Path,
    input_name: &str,
    seen: &Seen,
    first_record: u64,
) -> Result<Parsed> {
    // Only rows with a frame counter claim a frame (`Seen::frame`).
    let ordered = seen.enabled()
        && df
            .column(OPTIONAL_LINK_COLUMNS[6])
            .is_ok_and(|c| c.null_count() < c.len());
    let height = df.height();
    if ordered || height < PARALLEL_MIN_ROWS {
        return validate_rows(df, path, input_name, seen, first_record);
    }
    let step = height.div_ceil(rayon::current_num_threads().max(1));
    let parts: Vec<Result<Parsed>> = (0..height)
        .step_by(step)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|offset| {
            let piece = df.slice(i64::try_from(offset).unwrap_or(i64::MAX), step);
            validate_rows(&piece, path, input_name, seen, first_record + offset as u64)
        })
        .collect();
    let mut out = Parsed::default();
    out.table.add_input(input_name);
    for part in parts {
        let part = part?;
        out.table.append(&part.table);
        out.rejects.extend(part.rejects);
        out.rows_read += part.rows_read;
    }
    Ok(out)
}

/// Validate every row of `df` on this thread.
fn validate_rows(
    df: &DataFrame,
    path: &Path,
    input_name: &str,
    seen: &Seen,
    first_record: u64,
) -> Result<Parsed> {
    let polars_err = |source| Error::Polars {
        path: path.to_owned(),
        source,
    };
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let floats = |name: &str| -> Result<Option<Vec<Option<f64>>>> {
        let Ok(column) = df.column(name) else {
            return Ok(None);
        };
        let cast = column.cast(&DataType::Float64).map_err(polars_err)?;
        Ok(Some(cast.f64().map_err(polars_err)?.iter().collect()))
    };
    let ints = |name: &str| -> Result<Option<Vec<Option<i64>>>> {
        let Ok(column) = df.column(name) else {
            return Ok(None);
        };
        let cast = column.cast(&DataType::Int64).map_err(polars_err)?;
        Ok(Some(cast.i64().map_err(polars_err)?.iter().collect()))
    };
    let texts = |name: &str| -> Result<Option<Vec<Option<String>>>> {
        let Ok(column) = df.column(name) else {
            return Ok(None);
        };
        let cast = column.cast(&DataType::String).map_err(polars_err)?;
        Ok(Some(
            cast.str()
                .map_err(polars_err)?
                .iter()
                .map(|s| s.map(str::to_owned))
                .collect(),
        ))
    };
    let bools = |name: &str| -> Result<Option<Vec<Option<bool>>>> {
        let Ok(column) = df.column(name) else {
            return Ok(None);
        };
        let cast = column.cast(&DataType::Boolean).map_err(polars_err)?;
        Ok(Some(cast.bool().map_err(polars_err)?.iter().collect()))
    };
    let [tx_lat, tx_lon, rx_lat, rx_lon, rssi] = REQUIRED_LINK_COLUMNS;
    let (tx_lat, tx_lon, rx_lat, rx_lon, rssi) = (
        floats(tx_lat)?,
        floats(tx_lon)?,
        floats(rx_lat)?,
        floats(rx_lon)?,
        floats(rssi)?,
    );
    let o = OPTIONAL_LINK_COLUMNS;
    let (snr, freq, sf, time) = (floats(o[0])?, floats(o[1])?, ints(o[2])?, ints(o[3])?);
    let (tx_id, rx_id, fcnt) = (texts(o[4])?, texts(o[5])?, ints(o[6])?);
    let (eirp, tx_h, rx_h, tx_g, rx_g) = (
        floats(o[7])?,
        floats(o[8])?,
        floats(o[9])?,
        floats(o[10])?,
        floats(o[11])?,
    );
    let (heard, valid, reason) = (bools(o[12])?, bools(o[13])?, texts(o[14])?);

    let mut out = Parsed::default();
    out.table.add_input(input_name);
    let get = |col: &Option<Vec<Option<f64>>>, i: usize| col.as_ref().and_then(|c| c[i]);
    let geti = |col: &Option<Vec<Option<i64>>>, i: usize| col.as_ref().and_then(|c| c[i]);
    let gets =
        |col: &Option<Vec<Option<String>>>, i: usize| col.as_ref().and_then(|c| c[i].clone());
    let getb = |col: &Option<Vec<Option<bool>>>, i: usize| col.as_ref().and_then(|c| c[i]);
    for i in 0..df.height() {
        out.rows_read += 1;
        let record = first_record + out.rows_read;
        let required = |col: &Option<Vec<Option<f64>>>, name: &str| {
            get(col, i).filter(|v| v.is_finite()).ok_or_else(|| {
                RowError::Reject(Rejection::new(
                    RejectReason::MissingField,
                    format!("{name} is null or not a finite number"),
                ))
            })
        };
        let ranged = |v: Option<i64>, name: &str, max: i64| match v {
            Some(v) if !(0..=max).contains(&v) => Err(RowError::Reject(Rejection::new(
                RejectReason::ValueOutOfRange,
                format!("{name} = {v} is outside 0..={max}"),
            ))),
            _ => Ok(v),
        };
        let outcome = (|| -> std::result::Result<Link, RowError> {
            let sf_value = ranged(geti(&sf, i), "spreading_factor", i64::from(u8::MAX))?;
            let fcnt_value = ranged(geti(&fcnt, i), "frame_counter", i64::from(u32::MAX))?;
            let link = Link {
                tx_lat: required(&tx_lat, "tx_lat")?,
                tx_lon: required(&tx_lon, "tx_lon")?,
                rx_lat: required(&rx_lat, "rx_lat")?,
                rx_lon: required(&rx_lon, "rx_lon")?,
                rssi_dbm: get(&rssi, i),
                snr_db: get(&snr, i),
                freq_mhz: get(&freq, i),
                spreading_factor: sf_value.and_then(|v| u8::try_from(v).ok()),
                time_unix_ms: geti(&time, i),
                tx_id: gets(&tx_id, i),
                rx_id: gets(&rx_id, i),
                frame_counter: fcnt_value.and_then(|v| u32::try_from(v).ok()),
                tx_eirp_dbm: get(&eirp, i),
                tx_height_agl_m: get(&tx_h, i),
                rx_height_agl_m: get(&rx_h, i),
                tx_gain_dbi: get(&tx_g, i),
                rx_gain_dbi: get(&rx_g, i),
                heard: getb(&heard, i).unwrap_or(true),
                valid: getb(&valid, i).unwrap_or(true),
                invalid_reason: gets(&reason, i),
            };
            check_link(&link)?;
            seen.frame(&link, link.tx_id.as_deref(), link.rx_id.as_deref())?;
            Ok(link)
        })();
        match outcome {
            Ok(link) => out.table.push(&link, record),
            Err(RowError::Reject(r)) => {
                let original = df
                    .get_row(i)
                    .map(|row| {
                        names
                            .iter()
                            .zip(row.0.iter())
                            .map(|(n, v)| format!("{n}={v}"))
                            .collect::<Vec<_>>()
                            .join(";")
                    })
                    .unwrap_or_default();
                out.rejects.push(Reject {
                    input: input_name.to_owned(),
                    row: record.to_string(),
                    reason: r.reason,
                    detail: r.detail,
                    original,
                });
            }
            Err(RowError::Fatal(e)) => return Err(e),
        }
    }
    Ok(out)
}
