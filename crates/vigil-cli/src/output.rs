//! Printing rows as an aligned table, CSV or JSON.

use crate::setup::{Failure, Result};
use crate::Format;
use serde::Serialize;
use std::io::Write;

/// A table: headers and rows of cells, plus the JSON form of each row.
pub struct Rows {
    pub headers: Vec<&'static str>,
    pub cells: Vec<Vec<String>>,
    pub json: Vec<serde_json::Value>,
    /// Per row, an optional indented line printed under it in tables.
    pub details: Vec<Option<String>>,
}

impl Rows {
    pub fn new(headers: Vec<&'static str>) -> Self {
        Rows {
            headers,
            cells: Vec::new(),
            json: Vec::new(),
            details: Vec::new(),
        }
    }

    pub fn push(&mut self, cells: Vec<String>, json: impl Serialize) {
        self.details.push(None);
        self.cells.push(cells);
        self.json
            .push(serde_json::to_value(json).unwrap_or(serde_json::Value::Null));
    }

    /// Sets the detail line of the last row pushed.
    pub fn detail(&mut self, text: String) {
        if let Some(d) = self.details.last_mut() {
            *d = Some(text);
        }
    }

    /// Prints in `format`; a closed pipe (`vigil … | head`) ends printing
    /// quietly.
    pub fn print(&self, format: Format, max_width: usize) -> Result<()> {
        match self.write(format, max_width) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(Failure::input(format!("cannot write output: {e}"))),
            Ok(()) => Ok(()),
        }
    }

    /// Prints in `format`. In a table, a cell never exceeds `max_width`
    /// characters, so long titles do not push columns off the screen.
    fn write(&self, format: Format, max_width: usize) -> std::io::Result<()> {
        let stdout = std::io::stdout();
        self.write_to(format, max_width, &mut stdout.lock())
    }

    /// Writes in `format` to `out`.
    pub fn write_to(
        &self,
        format: Format,
        max_width: usize,
        mut out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let io = |e: std::io::Error| e;
        let csv_err = |e: csv::Error| match e.into_kind() {
            csv::ErrorKind::Io(e) => e,
            other => std::io::Error::other(format!("{other:?}")),
        };
        match format {
            Format::Ocsf | Format::Sarif | Format::Junit => {
                return Err(std::io::Error::other(
                    "--format ocsf applies to `scan`, `evaluate` and `iac scan`, --format sarif and junit to `iac scan`; use table, json or csv here",
                ))
            }
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &self.json).map_err(std::io::Error::from)?;
                writeln!(out).map_err(io)?;
            }
            Format::Csv => {
                let mut w = csv::Writer::from_writer(&mut out);
                w.write_record(&self.headers).map_err(csv_err)?;
                for row in &self.cells {
                    w.write_record(row).map_err(csv_err)?;
                }
                w.flush().map_err(io)?;
            }
            Format::Table => {
                let clip = |s: &str| -> String {
                    if s.chars().count() > max_width {
                        let mut t: String = s.chars().take(max_width.saturating_sub(1)).collect();
                        t.push('…');
                        t
                    } else {
                        s.to_string()
                    }
                };
                let rows: Vec<Vec<String>> = self
                    .cells
                    .iter()
                    .map(|r| r.iter().map(|c| clip(c)).collect())
                    .collect();
                let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
                for r in &rows {
                    for (i, c) in r.iter().enumerate() {
                        widths[i] = widths[i].max(c.chars().count());
                    }
                }
                let line = |cells: Vec<&str>| -> String {
                    let mut s = String::new();
                    for (i, c) in cells.iter().enumerate() {
                        if i + 1 == cells.len() {
                            s.push_str(c);
                        } else {
                            s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                        }
                    }
                    s.trim_end().to_string()
                };
                writeln!(out, "{}", line(self.headers.clone())).map_err(io)?;
                for (r, detail) in rows.iter().zip(&self.details) {
                    writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))
                        .map_err(io)?;
                    if let Some(d) = detail {
                        writeln!(out, "        {d}").map_err(io)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes a finished document to standard output; a closed pipe ends it
/// quietly.
pub fn emit(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::input(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}
