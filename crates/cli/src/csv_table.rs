//! Small user CSV tables (demand points, candidate sites): columns found by
//! name, case-insensitively, extra columns ignored; every error names the
//! file, the line and the field.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// An open CSV table and its header.
pub struct CsvTable {
    name: String,
    reader: csv::Reader<File>,
    headers: csv::StringRecord,
}

/// One data row, with what its errors need to say where it is.
pub struct Row<'a> {
    name: &'a str,
    line: u64,
    record: csv::StringRecord,
}

impl CsvTable {
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .with_context(|| format!("{name}: cannot open"))?;
        let headers = reader
            .headers()
            .with_context(|| format!("{name}: cannot read the header"))?
            .clone();
        Ok(Self {
            name,
            reader,
            headers,
        })
    }

    /// The index of column `wanted`, if present.
    pub fn column(&self, wanted: &str) -> Option<usize> {
        self.headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(wanted))
    }

    /// The index of column `wanted`; an error naming what the table is for
    /// (`needs`, e.g. "id,x,y") and the columns found when it is missing.
    pub fn required(&self, wanted: &str, needs: &str) -> Result<usize> {
        self.column(wanted).with_context(|| {
            format!(
                "{}: no `{wanted}` column (needs {needs}; found: {})",
                self.name,
                self.headers.iter().collect::<Vec<_>>().join(",")
            )
        })
    }

    /// Every data row, in order; stops at the first malformed record.
    pub fn rows(&mut self) -> Result<Vec<Row<'_>>> {
        let mut rows = Vec::new();
        for record in self.reader.records() {
            let record = record.with_context(|| format!("{}: malformed CSV", self.name))?;
            let line = record.position().map_or(0, csv::Position::line);
            rows.push(Row {
                name: &self.name,
                line,
                record,
            });
        }
        if rows.is_empty() {
            bail!("{}: no rows", self.name);
        }
        Ok(rows)
    }
}

impl Row<'_> {
    /// The text of column `col` ("" when the row is short).
    pub fn text(&self, col: usize) -> &str {
        self.record.get(col).unwrap_or("")
    }

    /// A non-empty text field.
    pub fn non_empty(&self, col: usize, field: &str) -> Result<String> {
        let text = self.text(col);
        if text.is_empty() {
            bail!("{}:{}: field `{field}` is empty", self.name, self.line);
        }
        Ok(text.to_owned())
    }

    /// A finite number in column `col`.
    pub fn number(&self, col: usize, field: &str) -> Result<f64> {
        let text = self.text(col);
        let value: f64 = text.parse().map_err(|_| {
            anyhow::anyhow!(
                "{}:{}: field `{field}`: `{text}` is not a number",
                self.name,
                self.line
            )
        })?;
        if !value.is_finite() {
            bail!(
                "{}:{}: field `{field}`: `{text}` is not a finite number",
                self.name,
                self.line
            );
        }
        Ok(value)
    }

    /// A finite number in optional column `col`, `default` when the column
    /// is absent or the field empty.
    pub fn number_or(&self, col: Option<usize>, field: &str, default: f64) -> Result<f64> {
        match col {
            Some(c) if !self.text(c).is_empty() => self.number(c, field),
            _ => Ok(default),
        }
    }

    /// An error about this row.
    pub fn error(&self, message: &str) -> anyhow::Error {
        anyhow::anyhow!("{}:{}: {message}", self.name, self.line)
    }
}
