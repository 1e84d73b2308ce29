//! Helium sources: `poc_receipts_v1` transactions, Console uplink events and
//! hotspot registries.

use std::collections::HashMap;
use std::path::Path;

use hexcover_core::{Link, Site};
use serde_json::Value;

use crate::csvread::{LineCounter, Parsed, RowError};
use crate::dedupe::Seen;
use crate::json::{Record, at_path, cell_centre, read_json, records, spreading_factor};
use crate::validate::{check_link, check_position};
use crate::{Error, Reject, RejectReason, Rejection, Result};

/// Collects the links and rejects of a JSON input.
struct JsonOut {
    parsed: Parsed,
    input_name: String,
}

impl JsonOut {
    fn new(input_name: &str) -> Self {
        let mut parsed = Parsed::default();
        parsed.table.add_input(input_name);
        Self {
            parsed,
            input_name: input_name.to_owned(),
        }
    }

    /// Count a row and file its outcome; fatal problems stop the file.
    fn row(
        &mut self,
        record: &Record<'_>,
        outcome: std::result::Result<Link, RowError>,
    ) -> Result<()> {
        self.parsed.rows_read += 1;
        let checked =
            outcome.and_then(|link| check_link(&link).map(|()| link).map_err(RowError::Reject));
        match checked {
            Ok(link) => self.parsed.table.push(&link, self.parsed.rows_read),
            Err(RowError::Reject(r)) => self.reject(record, r),
            Err(RowError::Fatal(e)) => return Err(e),
        }
        Ok(())
    }

    fn reject(&mut self, record: &Record<'_>, r: Rejection) {
        self.parsed.rejects.push(Reject {
            input: self.input_name.clone(),
            row: record.at.clone(),
            reason: r.reason,
            detail: r.detail,
            original: record.original(),
        });
    }
}

fn not_an_object(what: &str) -> RowError {
    RowError::Reject(Rejection::new(
        RejectReason::MalformedRecord,
        format!("{what} does not have the expected JSON shape"),
    ))
}

/// Read Helium `poc_receipts_v1` transactions: one link per witness entry,
/// from the beaconing hotspot (challengee) to the witness. Witness positions
/// come from their res-12 `location` cell. Entries marked `is_valid: false`
/// are kept with `valid = false` and their `invalid_reason`.
pub(crate) fn read_poc(path: &Path, input_name: &str, seen: &Seen) -> Result<Parsed> {
    let value = read_json(path)?;
    let mut out = JsonOut::new(input_name);
    for (ti, txn) in records(path, &value)?.iter().enumerate() {
        let txn_at = format!("[{ti}]");
        let txn_key = txn
            .get("hash")
            .and_then(Value::as_str)
            .map_or_else(|| txn_at.clone(), str::to_owned);
        let Some(path_entries) = txn.get("path").and_then(Value::as_array) else {
            let record = Record {
                value: txn,
                at: txn_at,
                path,
            };
            out.row(
                &record,
                Err(not_an_object("transaction with a `path` list")),
            )?;
            continue;
        };
        for (pi, step) in path_entries.iter().enumerate() {
            let step_at = format!("{txn_at}.path[{pi}]");
            let beacon = Record {
                value: step,
                at: step_at.clone(),
                path,
            };
            // A step or witness list of the wrong shape is one rejected row,
            // so that nothing disappears without a trace.
            let witnesses = match step.get("witnesses") {
                _ if !step.is_object() => {
                    out.row(&beacon, Err(not_an_object("path entry")))?;
                    continue;
                }
                None | Some(Value::Null) => {
                    out.parsed.records_skipped += 1; // a beacon nobody witnessed
                    continue;
                }
                Some(Value::Array(list)) => list,
                Some(_) => {
                    out.row(&beacon, Err(not_an_object("`witnesses` list")))?;
                    continue;
                }
            };
            let tx = beaconer_position(&beacon);
            let tx_id = beacon.text("challengee").ok().flatten();
            for (wi, witness) in witnesses.iter().enumerate() {
                let record = Record {
                    value: witness,
                    at: format!("{step_at}.witnesses[{wi}]"),
                    path,
                };
                let outcome = poc_witness_link(&record, tx, tx_id.as_deref()).and_then(|link| {
                    check_link(&link)?;
                    let gateway = link.rx_id.as_deref().unwrap_or_default();
                    seen.witness(&txn_key, pi, gateway)?;
                    Ok(link)
                });
                out.row(&record, outcome)?;
            }
        }
    }
    Ok(out.parsed)
}

fn beaconer_position(beacon: &Record<'_>) -> Option<(f64, f64)> {
    let lat = beacon.number("challengee_lat").ok().flatten();
    let lon = beacon.number("challengee_lon").ok().flatten();
    match (lat, lon) {
        (Some(lat), Some(lon)) => Some((lat, lon)),
        _ => beacon
            .text("challengee_location")
            .ok()
            .flatten()
            .and_then(|cell| cell_centre(&cell)),
    }
}

fn poc_witness_link(
    w: &Record<'_>,
    tx: Option<(f64, f64)>,
    tx_id: Option<&str>,
) -> std::result::Result<Link, RowError> {
    if !w.value.is_object() {
        return Err(not_an_object("witness entry"));
    }
    let Some(gateway) = w.text("gateway")? else {
        return Err(RowError::Reject(Rejection::new(
            RejectReason::MissingField,
            "witness has no gateway",
        )));
    };
    let Some((tx_lat, tx_lon)) = tx else {
        return Err(RowError::Reject(Rejection::new(
            RejectReason::TxWithoutPosition,
            "the beaconing hotspot has neither challengee_lat/lon nor a challengee_location",
        )));
    };
    let rx = match w.text("location")? {
        Some(cell) => cell_centre(&cell).ok_or_else(|| {
            Rejection::new(
                RejectReason::RxWithoutPosition,
                format!("witness location {cell:?} is not an H3 cell"),
            )
        })?,
        None => {
            return Err(RowError::Reject(Rejection::new(
                RejectReason::RxWithoutPosition,
                "witness has no location",
            )));
        }
    };
    let rssi = w.required_number("signal")?;
    let valid = w.boolean("is_valid", true)?;
    Ok(Link {
        snr_db: w.number("snr")?,
        freq_mhz: w.number("frequency")?,
        spreading_factor: w.text("datarate")?.as_deref().and_then(spreading_factor),
        #[allow(clippy::cast_possible_truncation)]
        time_unix_ms: w.number("timestamp")?.map(|ns| (ns / 1.0e6).floor() as i64),
        tx_id: tx_id.map(str::to_owned),
        rx_id: Some(gateway),
        valid,
        invalid_reason: if valid {
            None
        } else {
            w.text("invalid_reason")?
        },
        ..Link::heard(tx_lat, tx_lon, rx.0, rx.1, rssi)
    })
}

/// Where Console devices are: fields of the decoded payload, or a file of
/// fixed positions per device.
#[derive(Debug, Clone, Default)]
pub struct DevicePositions {
    /// Dot path of the device latitude inside the event body, e.g.
    /// `decoded.payload.latitude`.
    pub lat_field: Option<String>,
    /// Dot path of the device longitude inside the event body.
    pub lon_field: Option<String>,
    /// Fixed positions by device id (`dev_eui` or Console device id).
    pub fixed: HashMap<String, (f64, f64)>,
}

/// Read a device-positions CSV (`device_id,lat,lon`).
///
/// # Errors
/// Unreadable files, a missing column, or a row whose position is not valid.
pub fn read_device_positions(path: &Path) -> Result<HashMap<String, (f64, f64)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    crate::csvread::check_quotes(&bytes, path)?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let mut lines = LineCounter::new(&bytes, 1);
    let headers = reader
        .headers()
        .map_err(|e| Error::malformed(path, 1, "-", e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                Error::malformed(path, 1, name, "column missing (need device_id,lat,lon)")
            })
    };
    let (id, lat, lon) = (col("device_id")?, col("lat")?, col("lon")?);
    let mut out = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::malformed(path, 0, "-", e.to_string()))?;
        let line = lines.line_at(record.position().map_or(0, csv::Position::byte));
        let number = |i: usize, name: &str| {
            record
                .get(i)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .ok_or_else(|| Error::malformed(path, line, name, "not a number"))
        };
        let (la, lo) = (number(lat, "lat")?, number(lon, "lon")?);
        check_position("tx", la, lo).map_err(|r| Error::malformed(path, line, "lat", r.detail))?;
        out.insert(
            record.get(id).unwrap_or_default().trim().to_owned(),
            (la, lo),
        );
    }
    Ok(out)
}

/// Read Helium Console uplink events: one link per entry of
/// `data.req.body.hotspots`, from the device to the hotspot.
pub(crate) fn read_console(
    path: &Path,
    input_name: &str,
    devices: &DevicePositions,
    seen: &Seen,
) -> Result<Parsed> {
    let value = read_json(path)?;
    let mut out = JsonOut::new(input_name);
    for (ei, event) in records(path, &value)?.iter().enumerate() {
        let body = match at_path(event, "data.req.body") {
            Some(body) if body.is_object() => body,
            found => {
                if event.is_object() && found.is_none() {
                    // Not an uplink delivery (a join, a downlink, a status
                    // event): it records no reception.
                    out.parsed.records_skipped += 1;
                } else {
                    let record = Record {
                        value: event,
                        at: format!("[{ei}]"),
                        path,
                    };
                    out.row(
                        &record,
                        Err(not_an_object("Console event with a `data.req.body` object")),
                    )?;
                }
                continue;
            }
        };
        let body_record = Record {
            value: body,
            at: format!("[{ei}].data.req.body"),
            path,
        };
        let device = match (body_record.text("dev_eui"), body_record.text("id")) {
            (Err(RowError::Fatal(e)), _) | (_, Err(RowError::Fatal(e))) => return Err(e),
            (Ok(Some(eui)), _) => Some(eui),
            (_, Ok(id)) => id,
            _ => None,
        };
        let fcnt = body_record.number("fcnt").ok().flatten();
        let uplink_ms = body_record.number("reported_at").ok().flatten();
        let tx = device_position(&body_record, device.as_deref(), devices);
        let hotspots = match body.get("hotspots") {
            None | Some(Value::Null) => {
                out.parsed.records_skipped += 1;
                continue;
            }
            Some(Value::Array(list)) => list,
            Some(_) => {
                let record = Record {
                    value: body,
                    at: format!("[{ei}].data.req.body"),
                    path,
                };
                out.row(&record, Err(not_an_object("`hotspots` list")))?;
                continue;
            }
        };
        for (hi, hotspot) in hotspots.iter().enumerate() {
            let record = Record {
                value: hotspot,
                at: format!("[{ei}].data.req.body.hotspots[{hi}]"),
                path,
            };
            let outcome = console_link(&record, tx, device.as_deref()).and_then(|link| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let link = Link {
                    frame_counter: fcnt
                        .filter(|f| (0.0..=f64::from(u32::MAX)).contains(f))
                        .map(|f| f as u32),
                    // The uplink's time: the same for every hotspot that heard it.
                    #[allow(clippy::cast_possible_truncation)]
                    time_unix_ms: uplink_ms.map(|ms| ms as i64).or(link.time_unix_ms),
                    ..link
                };
                check_link(&link)?;
                seen.frame(&link, device.as_deref(), link.rx_id.as_deref())?;
                Ok(link)
            });
            out.row(&record, outcome)?;
        }
    }
    Ok(out.parsed)
}

fn device_position(
    body: &Record<'_>,
    device: Option<&str>,
    devices: &DevicePositions,
) -> Option<(f64, f64)> {
    if let (Some(lat), Some(lon)) = (&devices.lat_field, &devices.lon_field)
        && let (Ok(Some(lat)), Ok(Some(lon))) = (body.number(lat), body.number(lon))
    {
        return Some((lat, lon));
    }
    device.and_then(|d| devices.fixed.get(d).copied())
}

fn console_link(
    h: &Record<'_>,
    tx: Option<(f64, f64)>,
    device: Option<&str>,
) -> std::result::Result<Link, RowError> {
    if !h.value.is_object() {
        return Err(not_an_object("hotspot entry"));
    }
    let Some((tx_lat, tx_lon)) = tx else {
        return Err(RowError::Reject(Rejection::new(
            RejectReason::TxWithoutPosition,
            format!(
                "device {} has no position: no decoded-payload position fields were named \
                 (--device-lat-field/--device-lon-field) or found, and no --device-positions entry",
                device.unwrap_or("(no id)")
            ),
        )));
    };
    let (Some(rx_lat), Some(rx_lon)) = (h.number("lat")?, h.number("long")?) else {
        return Err(RowError::Reject(Rejection::new(
            RejectReason::RxWithoutPosition,
            "hotspot entry has no lat/long",
        )));
    };
    let rssi = h.required_number("rssi")?;
    Ok(Link {
        snr_db: h.number("snr")?,
        freq_mhz: h.number("frequency")?,
        spreading_factor: h.text("spreading")?.as_deref().and_then(spreading_factor),
        #[allow(clippy::cast_possible_truncation)]
        time_unix_ms: h.number("reported_at")?.map(|ms| ms as i64),
        tx_id: device.map(str::to_owned),
        rx_id: h.text("id")?,
        ..Link::heard(tx_lat, tx_lon, rx_lat, rx_lon, rssi)
    })
}

/// Sites and rejects of a registry.
pub(crate) struct SitesRead {
    pub sites: Vec<Site>,
    pub rejects: Vec<Reject>,
    pub rows_read: u64,
}

/// Read a Helium hotspot registry (`{"data": [...]}` or a top-level list):
/// one site per hotspot, positioned by `lat`/`lng`, else by its res-12
/// `location` cell. Newer registries' `elevation` (m above ground) and `gain`
/// (tenths of dBi) are kept where present.
pub(crate) fn read_hotspots(path: &Path, input_name: &str) -> Result<SitesRead> {
    let value = read_json(path)?;
    let mut out = SitesRead {
        sites: Vec::new(),
        rejects: Vec::new(),
        rows_read: 0,
    };
    for (i, entry) in records(path, &value)?.iter().enumerate() {
        out.rows_read += 1;
        let record = Record {
            value: entry,
            at: format!("[{i}]"),
            path,
        };
        match hotspot_site(&record) {
            Ok(site) => out.sites.push(site),
            Err(RowError::Reject(r)) => out.rejects.push(Reject {
                input: input_name.to_owned(),
                row: record.at.clone(),
                reason: r.reason,
                detail: r.detail,
                original: record.original(),
            }),
            Err(RowError::Fatal(e)) => return Err(e),
        }
    }
    Ok(out)
}

fn hotspot_site(r: &Record<'_>) -> std::result::Result<Site, RowError> {
    if !r.value.is_object() {
        return Err(not_an_object("hotspot entry"));
    }
    let id = r
        .text("address")?
        .or(r.text("id")?)
        .ok_or_else(|| Rejection::new(RejectReason::MissingField, "hotspot has no address"))?;
    let position = match (r.number("lat")?, r.number("lng")?) {
        (Some(lat), Some(lng)) => Some((lat, lng)),
        _ => r.text("location")?.and_then(|c| cell_centre(&c)),
    };
    let Some((lat, lon)) = position else {
        return Err(RowError::Reject(Rejection::new(
            RejectReason::SiteWithoutPosition,
            format!("hotspot {id} has no lat/lng and no location"),
        )));
    };
    check_position("rx", lat, lon).map_err(|mut e| {
        if e.reason != RejectReason::NoGpsFix {
            e.reason = RejectReason::SiteWithoutPosition;
        }
        e
    })?;
    Ok(Site {
        id,
        name: r.text("name")?,
        lat,
        lon,
        height_agl_m: r.number("elevation")?,
        gain_dbi: r.number("gain")?.map(|tenths| tenths / 10.0),
        owner: r.text("owner")?,
        source: "helium-hotspots".to_owned(),
    })
}
