//! What the backends share to keep IaC scans: the row they store and read
//! back. Both backends use the same table (`iac_scans`) and columns.

use crate::search::timestamp;
use crate::{IacScanRecord, StoreError};

/// The columns of `iac_scans`, in the order the backends select them:
/// scan_id, name, created_at, status, summary, document.
pub const COLUMNS: &str = "scan_id, name, created_at, status, summary, document";

/// The columns of a listing: the document is not read.
pub const LIST_COLUMNS: &str = "scan_id, name, created_at, status, summary, NULL AS document";

/// A scan as the backends write it: text columns for the JSON parts.
#[derive(Debug)]
pub struct IacScanRow {
    pub scan_id: String,
    pub name: String,
    pub created_at: i64,
    pub status: String,
    pub summary: String,
    pub document: Option<String>,
}

/// The columns of `iac_scans` as the backends read them, in [`COLUMNS`]
/// order.
pub type IacColumns = (String, String, i64, String, String, Option<String>);

impl IacScanRow {
    /// The scan of a row read in [`COLUMNS`] (or [`LIST_COLUMNS`]) order.
    pub fn read(
        (scan_id, name, created_at, status, summary, document): IacColumns,
    ) -> Result<IacScanRecord, StoreError> {
        IacScanRow {
            scan_id,
            name,
            created_at,
            status,
            summary,
            document,
        }
        .into_record()
    }

    /// The row to write for a scan; checks the scan first.
    pub fn of(scan: &IacScanRecord) -> Result<IacScanRow, StoreError> {
        scan.validate()?;
        Ok(IacScanRow {
            scan_id: scan.scan_id.clone(),
            name: scan.name.clone(),
            created_at: scan.created.timestamp_millis(),
            status: scan.status.clone(),
            summary: scan.summary.to_string(),
            document: scan.document.as_ref().map(|d| d.to_string()),
        })
    }

    /// The scan a row holds.
    pub fn into_record(self) -> Result<IacScanRecord, StoreError> {
        let json = |what: &str, text: &str| {
            serde_json::from_str(text).map_err(|e| {
                StoreError::Database(format!(
                    "stored {what} of IaC scan {} is not JSON: {e}",
                    self.scan_id
                ))
            })
        };
        Ok(IacScanRecord {
            summary: json("summary", &self.summary)?,
            document: match &self.document {
                Some(d) => Some(json("document", d)?),
                None => None,
            },
            created: timestamp(self.created_at)?,
            scan_id: self.scan_id,
            name: self.name,
            status: self.status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan() -> IacScanRecord {
        IacScanRecord {
            scan_id: "7f1c".into(),
            name: "infra".into(),
            created: crate::search::timestamp(1_700_000_000_000).unwrap(),
            status: "FINISHED".into(),
            summary: json!({"failed": 2}),
            document: Some(json!({"scanUuid": "7f1c"})),
        }
    }

    #[test]
    fn a_row_reads_back_as_the_scan_it_was_made_of() {
        let row = IacScanRow::of(&scan()).unwrap();
        assert_eq!(row.created_at, 1_700_000_000_000);
        assert_eq!(row.into_record().unwrap(), scan());
    }

    #[test]
    fn a_scan_without_a_name_or_document_is_refused() {
        let mut s = scan();
        s.name = " ".into();
        assert!(IacScanRow::of(&s).is_err());
        let mut s = scan();
        s.document = None;
        assert!(IacScanRow::of(&s)
            .unwrap_err()
            .to_string()
            .contains("no result document"));
    }

    #[test]
    fn a_stored_document_that_is_not_json_is_an_error_not_a_panic() {
        let mut row = IacScanRow::of(&scan()).unwrap();
        row.document = Some("{".into());
        assert!(row
            .into_record()
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }
}
