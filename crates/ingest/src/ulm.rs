//! The Ulm drive-test layout: receptions `lat,lon,rssi_dbm,gateway_id`
//! (transmitter = the tracker) joined to a gateway list `gateway_id,lat,lon,name`.

use std::collections::HashMap;
use std::path::Path;

use hexcover_core::{Link, Site};

use crate::csvread::{
    CsvFile, Fields, LineCounter, ParsedRow, Row, RowError, RowParser, next_record,
};
use crate::validate::check_position;
use crate::{Error, Format, InputSummary, Reject, RejectReason, Rejection, Result};

/// The gateways of a list, as sites and as a position lookup.
pub(crate) struct Gateways {
    pub sites: Vec<Site>,
    pub rejects: Vec<Reject>,
    pub summary: InputSummary,
    positions: HashMap<String, (f64, f64)>,
}

/// Read a gateway list (`gateway_id,lat,lon[,name]`).
pub(crate) fn read_gateways(path: &Path, input_name: &str) -> Result<Gateways> {
    let file = CsvFile::open(path, input_name)?;
    let required = |name: &str| {
        file.column(name).ok_or_else(|| {
            Error::malformed(path, 1, name, "column missing from the gateway list header")
        })
    };
    let (id_col, lat_col, lon_col) = (required("gateway_id")?, required("lat")?, required("lon")?);
    let name_col = file.column("name");
    let columns = file.columns.clone();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    crate::csvread::check_quotes(&bytes, path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let mut lines = LineCounter::new(&bytes, 1);
    let mut out = Gateways {
        sites: Vec::new(),
        rejects: Vec::new(),
        summary: InputSummary::new(input_name, Format::UlmGateways),
        positions: HashMap::new(),
    };
    let mut record = csv::ByteRecord::new();
    let mut ranges = Vec::new();
    while let Some(line) = next_record(&mut reader, &mut record, &mut lines, path)? {
        out.summary.rows_read += 1;
        let fields = Fields::of_record(&record, &mut ranges);
        let text = crate::csvread::check_fields(fields, &columns, path, line)?;
        let row = Row {
            fields,
            text,
            line,
            path,
            columns: &columns,
        };
        let site = (|| -> std::result::Result<Site, RowError> {
            if fields.len() != columns.len() {
                return Err(RowError::Reject(Rejection::new(
                    RejectReason::WrongFieldCount,
                    format!(
                        "{} fields where the header has {}",
                        fields.len(),
                        columns.len()
                    ),
                )));
            }
            let id = row.required_text(id_col)?;
            let lat = row.required_number(lat_col)?;
            let lon = row.required_number(lon_col)?;
            check_position("rx", lat, lon)?;
            Ok(Site {
                id: id.to_owned(),
                name: row.text(name_col)?.map(str::to_owned),
                lat,
                lon,
                height_agl_m: None,
                gain_dbi: None,
                owner: None,
                source: Format::UlmGateways.name().to_owned(),
            })
        })();
        match site {
            Ok(site) => {
                out.positions.insert(site.id.clone(), (site.lat, site.lon));
                out.sites.push(site);
                out.summary.accepted += 1;
            }
            Err(RowError::Reject(r)) => out.rejects.push(Reject {
                input: input_name.to_owned(),
                row: line.to_string(),
                reason: r.reason,
                detail: r.detail,
                original: fields.to_line(),
            }),
            Err(RowError::Fatal(e)) => return Err(e),
        }
    }
    out.summary.count_rejects(&out.rejects);
    Ok(out)
}

/// Parses Ulm receptions against a gateway lookup.
pub(crate) struct UlmParser<'g> {
    gateways: &'g Gateways,
    lat: usize,
    lon: usize,
    rssi: usize,
    gateway: usize,
}

impl<'g> UlmParser<'g> {
    pub fn new(file: &CsvFile, path: &Path, gateways: &'g Gateways) -> Result<Self> {
        let col = |name: &str| {
            file.column(name).ok_or_else(|| {
                Error::malformed(path, 1, name, "column missing from the Ulm layout header")
            })
        };
        Ok(Self {
            gateways,
            lat: col("lat")?,
            lon: col("lon")?,
            rssi: col("rssi_dbm")?,
            gateway: col("gateway_id")?,
        })
    }
}

impl RowParser for UlmParser<'_> {
    fn parse<'r>(&self, row: &Row<'r>) -> std::result::Result<ParsedRow<'r>, RowError> {
        let tx_lat = row.required_number(self.lat)?;
        let tx_lon = row.required_number(self.lon)?;
        let rssi = row.required_number(self.rssi)?;
        let gateway = row.required_text(self.gateway)?;
        let Some(&(rx_lat, rx_lon)) = self.gateways.positions.get(gateway) else {
            return Err(RowError::Reject(Rejection::new(
                RejectReason::RxWithoutPosition,
                format!("gateway {gateway} has no position in the gateway list"),
            )));
        };
        Ok(ParsedRow {
            link: Link::heard(tx_lat, tx_lon, rx_lat, rx_lon, rssi),
            tx_id: None,
            rx_id: Some(gateway),
            invalid_reason: None,
        })
    }
}
