//! Shared helpers of the JSON readers.

use std::path::Path;

use serde_json::Value;

use crate::csvread::{MAX_FIELD_BYTES, RowError};
use crate::{Error, RejectReason, Rejection, Result};

/// Read and parse a whole JSON file; syntax errors name the line and column.
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::unusable(path, "the file is empty"));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    serde_json::from_slice(bytes)
        .map_err(|e| Error::malformed(path, e.line() as u64, "-", format!("malformed JSON: {e}")))
}

/// The list of records: the value itself, or the `data` list of an API
/// response object.
pub(crate) fn records<'v>(path: &Path, value: &'v Value) -> Result<&'v [Value]> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(map) => match map.get("data") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(Error::unusable(
                path,
                "expected a JSON list of records or an object with a `data` list",
            )),
        },
        _ => Err(Error::unusable(path, "expected a JSON list of records")),
    }
}

/// Follow a dot path (`decoded.payload.latitude`) into a value.
pub(crate) fn at_path<'v>(value: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted
        .split('.')
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// Typed access to one JSON record, naming fields by their JSON path.
pub(crate) struct Record<'v> {
    pub value: &'v Value,
    pub at: String,
    pub path: &'v Path,
}

impl<'v> Record<'v> {
    /// An optional number; numeric strings are accepted too.
    pub fn number(&self, key: &str) -> std::result::Result<Option<f64>, RowError> {
        let Some(v) = at_path(self.value, key) else {
            return Ok(None);
        };
        let parsed = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(RowError::Reject(Rejection::new(
                RejectReason::NonNumeric,
                format!("{key} = {v} is not a number"),
            ))),
        }
    }

    /// A required number.
    pub fn required_number(&self, key: &str) -> std::result::Result<f64, RowError> {
        self.number(key)?.ok_or_else(|| {
            RowError::Reject(Rejection::new(
                RejectReason::MissingField,
                format!("{key} is missing"),
            ))
        })
    }

    /// An optional string (numbers are written as text); over 64 KiB is fatal.
    pub fn text(&self, key: &str) -> std::result::Result<Option<String>, RowError> {
        let Some(v) = at_path(self.value, key) else {
            return Ok(None);
        };
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text.len() > MAX_FIELD_BYTES {
            return Err(RowError::Fatal(Error::MalformedJson {
                path: self.path.to_owned(),
                at: format!("{}.{key}", self.at),
                message: format!("string of {} bytes, more than the 64 KiB limit", text.len()),
            }));
        }
        Ok((!text.is_empty()).then_some(text))
    }

    /// An optional boolean; `default` when absent.
    pub fn boolean(&self, key: &str, default: bool) -> std::result::Result<bool, RowError> {
        match at_path(self.value, key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(RowError::Reject(Rejection::new(
                RejectReason::NonNumeric,
                format!("{key} = {v} is not a boolean"),
            ))),
        }
    }

    /// The record compacted to one line, for the rejects file.
    pub fn original(&self) -> String {
        self.value.to_string()
    }
}

/// The spreading factor of a LoRa data-rate string such as `SF9BW125`.
pub(crate) fn spreading_factor(datarate: &str) -> Option<u8> {
    let rest = datarate.trim().strip_prefix("SF")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The centre of an H3 cell given as a hex string (Helium locations).
pub(crate) fn cell_centre(cell: &str) -> Option<(f64, f64)> {
    let cell: h3o::CellIndex = cell.trim().parse().ok()?;
    let ll = h3o::LatLng::from(cell);
    Some((ll.lat(), ll.lng()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datarates_give_spreading_factors() {
        assert_eq!(spreading_factor("SF9BW125"), Some(9));
        assert_eq!(spreading_factor("SF12BW125"), Some(12));
        assert_eq!(spreading_factor("FSK"), None);
    }

    #[test]
    fn helium_cells_give_their_centres() {
        let (lat, lon) = cell_centre("8c268c62b75d5ff").unwrap();
        assert!((38.0..40.0).contains(&lat) && (-106.0..-103.0).contains(&lon));
        assert_eq!(cell_centre("not-a-cell"), None);
    }
}
