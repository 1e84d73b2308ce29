//! `links.parquet`: the accepted links in the generic link-table columns,
//! which every `--links` option and `hexcover ingest` read back.

use std::path::{Path, PathBuf};

use polars::io::parquet::write::BatchedWriter;

use hexcover_core::LinkTable;
use polars::prelude::*;

use crate::atomic::temporary_sibling;
use crate::{Error, Result, write_atomically};

/// Write links in the generic link-table columns, plus `input_index` and
/// `input_row` (where each came from; the input names are in the file's
/// `hexcover:inputs` metadata as a JSON list).
///
/// # Errors
/// [`Error`] naming the file when building or writing fails.
pub fn write_links_parquet(path: &Path, links: &LinkTable) -> Result<()> {
    let identity: Vec<i32> = (0..links.inputs.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    let mut df = links_frame(links, &identity).map_err(Error::polars(path))?;
    write_atomically(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        links_writer(file, &links.inputs)
            .finish(&mut df)
            .map_err(Error::polars(path))?;
        Ok(())
    })
}

/// The writer settings of `links.parquet`, shared by both writers so that
/// their files differ in row-group boundaries only.
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
        let Some(writer) = &mut self.writer else {
            return Ok(());
        };
        // Row groups as `write_links_parquet` cuts them (polars' default).
        for offset in (0..df.height()).step_by(ROW_GROUP_ROWS) {
            let piece = df.slice(i64::try_from(offset).unwrap_or(i64::MAX), ROW_GROUP_ROWS);
            writer
                .write_batch(&piece)
                .map_err(Error::polars(&self.path))?;
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

/// The link-table columns of `t`; `input_index` maps the table's input
/// indices to those written.
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
    let ids = |name: &str,
               col: &hexcover_core::OptColumn<u32>,
               pool: &hexcover_core::IdPool|
     -> PolarsResult<Column> {
        if !col.any() {
            return Ok(Column::full_null(name.into(), n, &DataType::String));
        }
        // Gathered from the pool's names: string views of the few distinct
        // ids instead of a copy of every link's id.
        let names =
            StringChunked::from_iter_values(name.into(), pool.names().iter().map(String::as_str));
        let codes: IdxCa = (0..n).map(|i| col.get(i)).collect();
        names.take(&codes).map(IntoColumn::into_column)
    };
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
            ids("tx_id", &t.tx_id, &t.tx_ids)?,
            ids("rx_id", &t.rx_id, &t.rx_ids)?,
            fcnt,
            f("tx_eirp_dbm", &t.tx_eirp_dbm),
            f("tx_height_agl_m", &t.tx_height_agl_m),
            f("rx_height_agl_m", &t.rx_height_agl_m),
            f("tx_gain_dbi", &t.tx_gain_dbi),
            f("rx_gain_dbi", &t.rx_gain_dbi),
            Column::new("heard".into(), t.heard.as_slice()),
            Column::new("valid".into(), t.valid.as_slice()),
            ids("invalid_reason", &t.invalid_reason, &t.reasons)?,
            Column::new("input_index".into(), input_index),
            Column::new("input_row".into(), input_row),
        ],
    )
}
