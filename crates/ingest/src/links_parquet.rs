//! hexcover's generic link table as Parquet (what `links.parquet` holds):
//! the same columns as the CSV form; extra columns ignored.

use std::path::Path;

use hexcover_core::Link;
use polars::prelude::*;

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
            Ok(link) => out.table.push(&link, out.rows_read),
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
                    row: out.rows_read.to_string(),
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
