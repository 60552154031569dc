//! What every family's parser shares: a streaming XML walker (element
//! paths and their text, one element at a time, so memory stays flat), the
//! batcher that hands records to the sink, and Qualys' date forms.

use crate::http::Body;
use crate::{QualysError, Sink};
use chrono::{NaiveDateTime, TimeZone, Utc};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::io::{BufRead, BufReader};
use vigil_model::qualys::QualysBatch;
use vigil_model::Timestamp;

/// Longest text kept from one element (a bound on memory per element).
const TEXT_CAP: usize = 1 << 20;

/// One event of [`walk`]: an element opens, or closes with its text.
pub(crate) enum Ev<'a> {
    Open(&'a [String]),
    Close(&'a [String], &'a str),
}

/// Walks an XML stream, calling `on` with the element path at each open and
/// close (with the element's own text). A document that ends inside an
/// element (cut short) or is not well formed is a [`QualysError::Parse`]
/// naming the endpoint; a read that times out is a
/// [`QualysError::Timeout`].
pub(crate) fn walk<R: BufRead>(
    src: R,
    endpoint: &str,
    timeout: u64,
    mut on: impl FnMut(Ev<'_>) -> Result<(), QualysError>,
) -> Result<(), QualysError> {
    let mut reader = Reader::from_reader(src);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut path: Vec<String> = Vec::with_capacity(16);
    // Names popped off the path, reused for the next elements.
    let mut spare: Vec<String> = Vec::with_capacity(16);
    let push = |path: &mut Vec<String>, spare: &mut Vec<String>, name: &[u8]| {
        let mut s = spare.pop().unwrap_or_default();
        s.clear();
        s.push_str(&String::from_utf8_lossy(name));
        path.push(s);
    };
    let mut text = String::new();
    let mut seen_root = false;
    loop {
        buf.clear();
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => return Err(xml_error(endpoint, timeout, reader.error_position(), e)),
        };
        match ev {
            Event::Start(e) => {
                push(&mut path, &mut spare, e.name().as_ref());
                text.clear();
                seen_root = true;
                on(Ev::Open(&path))?;
            }
            Event::Empty(e) => {
                push(&mut path, &mut spare, e.name().as_ref());
                seen_root = true;
                on(Ev::Open(&path))?;
                on(Ev::Close(&path, ""))?;
                spare.extend(path.pop());
                text.clear();
            }
            Event::End(_) => {
                on(Ev::Close(&path, &text))?;
                spare.extend(path.pop());
                text.clear();
            }
            Event::Text(t) if text.len() < TEXT_CAP => {
                let s = t
                    .unescape()
                    .map_err(|e| xml_error(endpoint, timeout, reader.buffer_position(), e))?;
                text.push_str(&s);
            }
            Event::CData(c) if text.len() < TEXT_CAP => {
                text.push_str(&String::from_utf8_lossy(&c));
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    return Err(QualysError::Parse {
                        endpoint: endpoint.to_string(),
                        offset: reader.buffer_position(),
                        message: format!(
                            "the answer ends inside <{open}> ({}): it was cut short",
                            path.join("/")
                        ),
                    });
                }
                if !seen_root {
                    return Err(QualysError::Parse {
                        endpoint: endpoint.to_string(),
                        offset: 0,
                        message: "the answer is empty".into(),
                    });
                }
                return Ok(());
            }
            _ => {}
        }
    }
}

fn xml_error(endpoint: &str, timeout: u64, offset: u64, e: quick_xml::Error) -> QualysError {
    if let quick_xml::Error::Io(io) = &e {
        return match io.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => QualysError::Timeout {
                endpoint: endpoint.to_string(),
                seconds: timeout,
            },
            _ => QualysError::Network {
                endpoint: endpoint.to_string(),
                message: format!("reading the answer: {io}"),
            },
        };
    }
    QualysError::Parse {
        endpoint: endpoint.to_string(),
        offset,
        message: e.to_string(),
    }
}

/// [`walk`] over an answer body, its endpoint and time-out named in errors.
pub(crate) fn walk_body(
    body: Body,
    on: impl FnMut(Ev<'_>) -> Result<(), QualysError>,
) -> Result<(), QualysError> {
    let endpoint = body.endpoint.clone();
    let timeout = body.timeout_seconds;
    walk(BufReader::new(body), &endpoint, timeout, on)
}

/// Collects records into batches of at most `page` for the sink.
pub(crate) struct Batcher<'a, T> {
    sink: &'a dyn Sink,
    page: usize,
    wrap: fn(Vec<T>) -> QualysBatch,
    buf: Vec<T>,
    count: u64,
}

impl<'a, T> Batcher<'a, T> {
    pub(crate) fn new(sink: &'a dyn Sink, page: usize, wrap: fn(Vec<T>) -> QualysBatch) -> Self {
        Batcher {
            sink,
            page: page.max(1),
            wrap,
            buf: Vec::new(),
            count: 0,
        }
    }

    pub(crate) fn push(&mut self, item: T) -> Result<(), QualysError> {
        self.buf.push(item);
        if self.buf.len() >= self.page {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), QualysError> {
        if !self.buf.is_empty() {
            let items = std::mem::take(&mut self.buf);
            self.count += items.len() as u64;
            self.sink
                .put((self.wrap)(items))
                .map_err(QualysError::Stopped)?;
        }
        Ok(())
    }

    /// Hands over what is left; returns the records handed over in all.
    pub(crate) fn finish(mut self) -> Result<u64, QualysError> {
        self.flush()?;
        Ok(self.count)
    }
}

/// Parses Qualys' date-times (`2024-05-01T10:00:00Z`, with or without the
/// zone or fraction, a bare date, or epoch milliseconds).
pub(crate) fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    if s.len() >= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
}
