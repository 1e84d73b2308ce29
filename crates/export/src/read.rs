//! Readers of what the writers wrote: per-site coverage and sites, so that a
//! study directory can be loaded back (the server's state) without knowing
//! polars.

use std::fs::File;
use std::path::Path;

use h3o::CellIndex;
use hexcover_core::{HexCoverage, Site};
use polars::prelude::*;

use crate::{Error, Result};

fn read_frame(path: &Path, columns: &[&str]) -> Result<DataFrame> {
    let file = File::open(path).map_err(|source| Error::io(path, source))?;
    let columns: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
    ParquetReader::new(file)
        .with_columns(Some(columns))
        .finish()
        .map_err(Error::polars(path))
}

fn content(path: &Path, message: String) -> Error {
    Error::Content {
        path: path.to_owned(),
        message,
    }
}

fn floats(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Option<f64>>> {
    let column = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(Error::polars(path))?;
    let values = column.f64().map_err(Error::polars(path))?;
    Ok(values.iter().collect())
}

fn texts(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Option<String>>> {
    let column = df
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(Error::polars(path))?;
    let values = column.str().map_err(Error::polars(path))?;
    Ok(values.iter().map(|v| v.map(str::to_owned)).collect())
}

/// Read a per-site coverage file written by
/// [`crate::write_coverage_geoparquet`]: one [`HexCoverage`] per row.
///
/// # Errors
/// [`Error`] naming the file when it cannot be read, a column is missing,
/// or a row holds no valid H3 cell or a missing value (the row is named).
pub fn read_coverage_geoparquet(path: &Path) -> Result<Vec<HexCoverage>> {
    let names = [
        "h3_cell",
        "distance_m",
        "rssi_pred_dbm",
        "rssi_p10_dbm",
        "rssi_p90_dbm",
        "p_covered",
    ];
    let df = read_frame(path, &names)?;
    let cells = texts(&df, path, "h3_cell")?;
    let columns: Vec<Vec<Option<f64>>> = names[1..]
        .iter()
        .map(|name| floats(&df, path, name))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(cells.len());
    for (row, cell) in cells.iter().enumerate() {
        let cell: CellIndex = cell
            .as_deref()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| content(path, format!("row {row}: `h3_cell` is not an H3 cell")))?;
        let mut values = [0.0; 5];
        for (value, (column, name)) in values.iter_mut().zip(columns.iter().zip(&names[1..])) {
            *value = column[row]
                .filter(|v| v.is_finite())
                .ok_or_else(|| content(path, format!("row {row}: `{name}` is missing")))?;
        }
        out.push(HexCoverage {
            cell,
            distance_m: values[0],
            rssi_pred_dbm: values[1],
            rssi_p10_dbm: values[2],
            rssi_p90_dbm: values[3],
            p_covered: values[4],
        });
    }
    Ok(out)
}

/// Read a sites file written by [`crate::write_sites_geoparquet`].
///
/// # Errors
/// [`Error`] naming the file when it cannot be read, a column is missing,
/// or a row has no id or position (the row is named).
pub fn read_sites_geoparquet(path: &Path) -> Result<Vec<Site>> {
    let df = read_frame(
        path,
        &[
            "id",
            "name",
            "lat",
            "lon",
            "height_agl_m",
            "gain_dbi",
            "owner",
            "source",
        ],
    )?;
    let (ids, names, owners, sources) = (
        texts(&df, path, "id")?,
        texts(&df, path, "name")?,
        texts(&df, path, "owner")?,
        texts(&df, path, "source")?,
    );
    let (lats, lons, heights, gains) = (
        floats(&df, path, "lat")?,
        floats(&df, path, "lon")?,
        floats(&df, path, "height_agl_m")?,
        floats(&df, path, "gain_dbi")?,
    );
    let mut out = Vec::with_capacity(ids.len());
    for row in 0..ids.len() {
        let (Some(id), Some(lat), Some(lon)) = (ids[row].clone(), lats[row], lons[row]) else {
            return Err(content(
                path,
                format!("row {row}: a site needs id, lat and lon"),
            ));
        };
        out.push(Site {
            id,
            name: names[row].clone(),
            lat,
            lon,
            height_agl_m: heights[row],
            gain_dbi: gains[row],
            owner: owners[row].clone(),
            source: sources[row].clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use hexcover_core::CoverageRun;

    #[test]
    fn coverage_and_sites_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let cell: CellIndex = "8a1f8c11d187fff".parse().unwrap();
        let hexes = vec![HexCoverage {
            cell,
            distance_m: 53.0,
            rssi_pred_dbm: -86.5,
            rssi_p10_dbm: -94.0,
            rssi_p90_dbm: -76.5,
            p_covered: 0.99,
        }];
        let run = CoverageRun {
            site_lat: 48.4,
            site_lon: 9.99,
            site_height_agl_m: 10.0,
            site_gain_dbi: 3.0,
            freq_mhz: 868.3,
            device_eirp_dbm: 16.0,
            device_height_agl_m: 1.5,
            threshold_dbm: -130.0,
            radius_m: 1000.0,
            resolution: 10,
            model: "test".into(),
        };
        let path = dir.path().join("c.parquet");
        crate::write_coverage_geoparquet(&path, &hexes, &run).unwrap();
        assert_eq!(read_coverage_geoparquet(&path).unwrap(), hexes);

        let sites = vec![Site {
            id: "gw-1".into(),
            name: Some("Minster".into()),
            lat: 48.3985,
            lon: 9.9918,
            height_agl_m: Some(30.0),
            gain_dbi: None,
            owner: None,
            source: "ulm-gateways".into(),
        }];
        let path = dir.path().join("s.parquet");
        crate::write_sites_geoparquet(&path, &sites).unwrap();
        assert_eq!(read_sites_geoparquet(&path).unwrap(), sites);
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = read_sites_geoparquet(Path::new("/nonexistent/sites.parquet")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/sites.parquet"),
            "{err}"
        );
    }
}
