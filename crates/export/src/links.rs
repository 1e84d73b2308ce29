//! `links.parquet`: the accepted links in the generic link-table columns,
//! which every `--links` option and `hexcover ingest` read back.

use std::path::Path;

use hexcover_core::LinkTable;
use polars::prelude::*;

use crate::{Error, Result, write_atomically};

/// Write links in the generic link-table columns, plus `input_index` and
/// `input_row` (where each came from; the input names are in the file's
/// `hexcover:inputs` metadata as a JSON list).
///
/// # Errors
/// [`Error`] naming the file when building or writing fails.
pub fn write_links_parquet(path: &Path, links: &LinkTable) -> Result<()> {
    let mut df = links_frame(links).map_err(Error::polars(path))?;
    let inputs = serde_json::to_string(&links.inputs).unwrap_or_default();
    write_atomically(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Snappy)
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
                "hexcover:inputs".to_owned(),
                inputs,
            )])))
            .finish(&mut df)
            .map_err(Error::polars(path))?;
        Ok(())
    })
}

fn links_frame(t: &LinkTable) -> PolarsResult<DataFrame> {
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
    let ids = |name: &str, col: &hexcover_core::OptColumn<u32>, pool: &hexcover_core::IdPool| {
        if !col.any() {
            return Column::full_null(name.into(), n, &DataType::String);
        }
        let values: StringChunked = (0..n).map(|i| col.get(i).map(|c| pool.name(c))).collect();
        values.with_name(name.into()).into_column()
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
    let input_index: Vec<i32> = t.input_index.iter().map(|&i| i32::from(i)).collect();
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
            ids("tx_id", &t.tx_id, &t.tx_ids),
            ids("rx_id", &t.rx_id, &t.rx_ids),
            fcnt,
            f("tx_eirp_dbm", &t.tx_eirp_dbm),
            f("tx_height_agl_m", &t.tx_height_agl_m),
            f("rx_height_agl_m", &t.rx_height_agl_m),
            f("tx_gain_dbi", &t.tx_gain_dbi),
            f("rx_gain_dbi", &t.rx_gain_dbi),
            Column::new("heard".into(), t.heard.as_slice()),
            Column::new("valid".into(), t.valid.as_slice()),
            ids("invalid_reason", &t.invalid_reason, &t.reasons),
            Column::new("input_index".into(), input_index),
            Column::new("input_row".into(), input_row),
        ],
    )
}
