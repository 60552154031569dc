//! Errors in the catalogue, each pointing at a file, line and column.

/// A control or policy file that cannot be used. The run stops: a broken
/// control never evaluates to anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct CatalogError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl CatalogError {
    pub fn at(file: &str, line: usize, column: usize, reason: impl Into<String>) -> Self {
        CatalogError {
            file: file.to_string(),
            line,
            column,
            reason: reason.into(),
        }
    }
}

/// The 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn offsets_map_to_one_based_lines_and_columns() {
        let text = "ab\ncd\nef";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (2, 2));
        assert_eq!(line_col(text, 6), (3, 1));
    }
}
