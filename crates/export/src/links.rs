//! `links.parquet`: the accepted links in the generic link-table columns,
//! which every `--links` option and `hexcover ingest` read back.

use std::ops::Range;
use std::path::{Path, PathBuf};

use hexcover_core::{IdPool, LinkTable, OptColumn};
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use polars_arrow::array::{ArrayRef, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_parquet::parquet::error::ParquetError;
use polars_parquet::write::{
    Compressor, DynIter, DynStreamingIterator, FallibleStreamingIterator, array_to_columns,
    get_dtype_encoding,
};
use rayon::prelude::*;

use crate::atomic::temporary_sibling;
use crate::{Error, Result};

/// Write links in the generic link-table columns, plus `input_index` and
/// `input_row` (where each came from; the input names are in the file's
/// `hexcover:inputs` metadata as a JSON list).
///
/// # Errors
/// [`Error`] naming the file when building or writing fails.
pub fn write_links_parquet(path: &Path, links: &LinkTable) -> Result<()> {
    let mut writer = LinksParquetWriter::create(path, &links.inputs)?;
    writer.write(links)?;
    writer.finish().map(|_| ())
}

/// The writer settings of `links.parquet`: its compression and the
/// `hexcover:inputs` metadata.
fn links_writer(file: std::fs::File, inputs: &[String]) -> ParquetWriter<std::fs::File> {
    let inputs = serde_json::to_string(inputs).unwrap_or_default();
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
            "hexcover:inputs".to_owned(),
            inputs,
        )])))
}

/// Rows per row group, polars' default for `ParquetWriter::finish`.
const ROW_GROUP_ROWS: usize = 512 * 512;

/// `links.parquet` written a chunk of links at a time (the streaming
/// ingest): the same columns, types and metadata as [`write_links_parquet`]
/// writes for all the chunks appended into one table. Written to a temporary
/// sibling that [`LinksParquetWriter::finish`] renames into place; dropped
/// unfinished, it removes the temporary file.
pub struct LinksParquetWriter {
    path: PathBuf,
    tmp: PathBuf,
    inputs: Vec<String>,
    writer: Option<BatchedWriter<std::fs::File>>,
    rows: u64,
}

impl LinksParquetWriter {
    /// Start writing `path` for links from `inputs` (their names, in the
    /// order `input_index` counts them).
    ///
    /// # Errors
    /// [`Error`] naming the file when it cannot be created.
    pub fn create(path: &Path, inputs: &[String]) -> Result<Self> {
        let tmp = temporary_sibling(path);
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let empty = links_frame(&LinkTable::default(), &[]).map_err(Error::polars(path))?;
        let writer = links_writer(file, inputs)
            .batched(empty.schema())
            .map_err(Error::polars(path))?;
        Ok(Self {
            path: path.to_owned(),
            tmp,
            inputs: inputs.to_vec(),
            writer: Some(writer),
            rows: 0,
        })
    }

    /// Append a chunk of links; its inputs must be among those given to
    /// [`LinksParquetWriter::create`].
    ///
    /// # Errors
    /// [`Error`] naming the file when the chunk names an unknown input or
    /// writing fails.
    pub fn write(&mut self, links: &LinkTable) -> Result<()> {
        let index: Vec<i32> = links
            .inputs
            .iter()
            .map(|name| {
                self.inputs
                    .iter()
                    .position(|n| n == name)
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| {
                        Error::io(
                            &self.path,
                            std::io::Error::other(format!("links of an undeclared input {name}")),
                        )
                    })
            })
            .collect::<Result<_>>()?;
        let df = links_frame(links, &index).map_err(Error::polars(&self.path))?;
        let Some(writer) = &self.writer else {
            return Ok(());
        };
        // Row groups of polars' default size.
        for start in (0..df.height()).step_by(ROW_GROUP_ROWS) {
            let rows = start..(start + ROW_GROUP_ROWS).min(df.height());
            write_row_group(writer, &df, links, rows).map_err(Error::polars(&self.path))?;
        }
        self.rows += links.len() as u64;
        Ok(())
    }

    /// Write the footer and rename the file into place; returns the rows
    /// written.
    ///
    /// # Errors
    /// [`Error`] naming the file when writing or renaming fails.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(writer) = self.writer.take() {
            writer.finish().map_err(Error::polars(&self.path))?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(self.rows)
    }
}

impl Drop for LinksParquetWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            // Unfinished: the temporary file is garbage; failing to remove it
            // changes nothing.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Write rows `rows` of `df` (the [`links_frame`] of `t`) as one row group.
///
/// What polars' `BatchedWriter::write_batch` does — every column encoded on
/// its own core, then compressed and written in order — except for the id
/// columns: polars would hash every id string of the row group to build the
/// dictionary it writes them with; here the dictionary comes from the
/// table's id pools. The pages are the same: dictionary pages holding the
/// ids in the order of their first link in the row group.
fn write_row_group(
    writer: &BatchedWriter<std::fs::File>,
    df: &DataFrame,
    t: &LinkTable,
    rows: Range<usize>,
) -> PolarsResult<()> {
    let piece = df.slice(
        i64::try_from(rows.start).unwrap_or(i64::MAX),
        rows.end - rows.start,
    );
    let ids = id_columns(t);
    let arrays = piece
        .columns()
        .iter()
        .map(|column| {
            // An id column without values stays polars' all-null strings.
            match ids
                .iter()
                .find(|(name, codes, _)| column.name() == name && codes.any())
            {
                Some((_, codes, pool)) => id_dictionary(codes, pool, rows.clone()),
                None => Ok(column.as_materialized_series().rechunk().chunks()[0].clone()),
            }
        })
        .collect::<PolarsResult<Vec<ArrayRef>>>()?;
    let file = writer.get_writer();
    let (fields, options) = {
        let file = file.lock().map_err(|_| poisoned())?;
        (file.parquet_schema().fields().to_vec(), file.options())
    };
    let columns = arrays
        .par_iter()
        .zip(fields.into_par_iter())
        .map(|(array, field)| {
            let encodings = get_dtype_encoding(array.dtype());
            array_to_columns(array, field, options, &encodings)
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    let row_group = DynIter::new(columns.into_iter().flatten().map(move |pages| {
        let pages = pages.map(|page| page.map_err(|e| ParquetError::OutOfSpec(e.to_string())));
        let compressed =
            Compressor::new(pages, options.compression, vec![]).map_err(PolarsError::from);
        Ok(DynStreamingIterator::new(compressed))
    }));
    let mut file = file.lock().map_err(|_| poisoned())?;
    file.write(u64::try_from(rows.len()).unwrap_or(u64::MAX), row_group)
}

fn poisoned() -> PolarsError {
    PolarsError::ComputeError("links.parquet's writer was poisoned by a panic".into())
}

/// The id columns of `links.parquet`: name, each link's code, the names.
fn id_columns(t: &LinkTable) -> [(&'static str, &OptColumn<u32>, &IdPool); 3] {
    [
        ("tx_id", &t.tx_id, &t.tx_ids),
        ("rx_id", &t.rx_id, &t.rx_ids),
        ("invalid_reason", &t.invalid_reason, &t.reasons),
    ]
}

/// Rows `rows` of an id column as a dictionary array: the row group's
/// distinct ids (in the order of their first row, as polars orders a
/// dictionary) and one key per row, null where a link has no id.
fn id_dictionary(
    codes: &OptColumn<u32>,
    pool: &IdPool,
    rows: Range<usize>,
) -> PolarsResult<ArrayRef> {
    const UNUSED: u32 = u32::MAX;
    let mut key_of_code = vec![UNUSED; pool.len()];
    let mut names: Vec<&str> = Vec::new();
    let keys: PrimitiveArray<u32> = rows
        .map(|i| {
            let code = codes.get(i)?;
            let key = key_of_code.get_mut(code as usize)?;
            if *key == UNUSED {
                *key = u32::try_from(names.len()).unwrap_or(UNUSED);
                names.push(pool.name(code));
            }
            Some(*key)
        })
        .collect();
    let values = Utf8ViewArray::from_slice_values(names);
    let dtype = ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    );
    Ok(DictionaryArray::try_new(dtype, keys, values.boxed())?.boxed())
}

/// The link-table columns of `t`; `input_index` maps the table's input
/// indices to those written. The id columns are placeholders (all null),
/// which [`write_row_group`] replaces with dictionaries of the id pools.
fn links_frame(t: &LinkTable, input_index: &[i32]) -> PolarsResult<DataFrame> {
    let n = t.len();
    // A column in which no link has a value is written as all-null without
    // walking its rows: most sources lack most optional fields.
    let f = |name: &str, col: &hexcover_core::OptF64Column| {
        if !col.any() {
            return Column::full_null(name.into(), n, &DataType::Float64);
        }
        let values: Float64Chunked = (0..n).map(|i| col.get(i)).collect();
        values.with_name(name.into()).into_column()
    };
    let [tx_id, rx_id, invalid_reason] =
        id_columns(t).map(|(name, ..)| Column::full_null(name.into(), n, &DataType::String));
    let ints = |name: &str, any: bool, get: &dyn Fn(usize) -> Option<i64>| {
        if !any {
            return Column::full_null(name.into(), n, &DataType::Int64);
        }
        let values: Int64Chunked = (0..n).map(get).collect();
        values.with_name(name.into()).into_column()
    };
    let sf = ints("spreading_factor", t.spreading_factor.any(), &|i| {
        t.spreading_factor.get(i).map(i64::from)
    });
    let time = ints("time_unix_ms", t.time_unix_ms.any(), &|i| {
        t.time_unix_ms.get(i)
    });
    let fcnt = ints("frame_counter", t.frame_counter.any(), &|i| {
        t.frame_counter.get(i).map(i64::from)
    });
    let input_index: Vec<i32> = t
        .input_index
        .iter()
        .map(|&i| {
            input_index
                .get(usize::from(i))
                .copied()
                .unwrap_or(i32::from(i))
        })
        .collect();
    let input_row: Vec<i64> = t
        .input_row
        .iter()
        .map(|&r| i64::try_from(r).unwrap_or(i64::MAX))
        .collect();
    DataFrame::new(
        n,
        vec![
            Column::new("tx_lat".into(), t.tx_lat.as_slice()),
            Column::new("tx_lon".into(), t.tx_lon.as_slice()),
            Column::new("rx_lat".into(), t.rx_lat.as_slice()),
            Column::new("rx_lon".into(), t.rx_lon.as_slice()),
            f("rssi_dbm", &t.rssi_dbm),
            f("snr_db", &t.snr_db),
            f("freq_mhz", &t.freq_mhz),
            sf,
            time,
            tx_id,
            rx_id,
            fcnt,
            f("tx_eirp_dbm", &t.tx_eirp_dbm),
            f("tx_height_agl_m", &t.tx_height_agl_m),
            f("rx_height_agl_m", &t.rx_height_agl_m),
            f("tx_gain_dbi", &t.tx_gain_dbi),
            f("rx_gain_dbi", &t.rx_gain_dbi),
            Column::new("heard".into(), t.heard.as_slice()),
            Column::new("valid".into(), t.valid.as_slice()),
            invalid_reason,
            Column::new("input_index".into(), input_index),
            Column::new("input_row".into(), input_row),
        ],
    )
}

#[cfg(test)]
mod tests {
    use hexcover_core::Link;

    use super::*;

    /// A table whose receiver pool also holds an id no link has (as a
    /// chunk's pool holds the ids of its rejected rows), with a link
    /// without a receiver id.
    fn table() -> LinkTable {
        let mut t = LinkTable::default();
        t.add_input("a.csv");
        for (row, rx) in [Some("gw-b"), None, Some("gw-a"), Some("gw-b")]
            .into_iter()
            .enumerate()
        {
            let mut link = Link::heard(48.4, 10.0, 48.5, 10.1, -100.0);
            link.tx_id = Some(format!("dev-{row}"));
            link.rx_id = rx.map(str::to_owned);
            t.push(&link, row as u64 + 2);
        }
        t.rx_ids.intern("gw-unused");
        t
    }

    fn strings(array: &dyn polars_arrow::array::Array) -> Vec<Option<String>> {
        let series = Series::from_arrow("ids".into(), array.to_boxed()).unwrap();
        let series = series.cast(&DataType::String).unwrap();
        series
            .str()
            .unwrap()
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect()
    }

    #[test]
    fn an_id_dictionary_holds_only_the_ids_of_its_rows_in_first_use_order() {
        let t = table();
        let all = id_dictionary(&t.rx_id, &t.rx_ids, 0..4).unwrap();
        let all = all.as_any().downcast_ref::<DictionaryArray<u32>>().unwrap();
        // gw-b before gw-a (first use), gw-unused left out, the missing id null.
        assert_eq!(
            strings(all.values().as_ref()),
            [Some("gw-b".into()), Some("gw-a".into())]
        );
        assert_eq!(
            strings(all),
            [
                Some("gw-b".into()),
                None,
                Some("gw-a".into()),
                Some("gw-b".into())
            ]
        );
        let tail = id_dictionary(&t.rx_id, &t.rx_ids, 2..4).unwrap();
        let tail = tail
            .as_any()
            .downcast_ref::<DictionaryArray<u32>>()
            .unwrap();
        assert_eq!(
            strings(tail.values().as_ref()),
            [Some("gw-a".into()), Some("gw-b".into())]
        );
        assert_eq!(tail.keys().values().as_slice(), [0, 1]);
    }

    #[test]
    fn chunks_written_as_dictionaries_read_back_as_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("links.parquet");
        let t = table();
        let mut writer = LinksParquetWriter::create(&path, &t.inputs).unwrap();
        writer.write(&t).unwrap();
        writer.write(&t).unwrap();
        assert_eq!(writer.finish().unwrap(), 8);
        let file = std::fs::File::open(&path).unwrap();
        let df = ParquetReader::new(file).finish().unwrap();
        assert_eq!(df.column("rx_id").unwrap().dtype(), &DataType::String);
        let ids = |name: &str| -> Vec<Option<String>> {
            let column = df.column(name).unwrap().str().unwrap().clone();
            column.iter().map(|s| s.map(str::to_owned)).collect()
        };
        let rx: Vec<Option<String>> = (0..8).map(|i| t.get(i % 4).rx_id).collect();
        let tx: Vec<Option<String>> = (0..8).map(|i| t.get(i % 4).tx_id).collect();
        assert_eq!(ids("rx_id"), rx);
        assert_eq!(ids("tx_id"), tx);
        assert_eq!(df.column("invalid_reason").unwrap().null_count(), 8);
    }
}
