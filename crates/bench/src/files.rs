//! Writing the benchmark's files: atomically and durably, under names made safe.

use crate::error::{BenchError, Result};
use std::path::Path;

/// Writes `bytes` to `path` atomically and durably (see [`vsearch_core::durable::write_atomic`]), creating its folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, e))?;
    }
    vsearch_core::durable::write_atomic(path, bytes).map_err(|e| BenchError::io(path, e))
}

/// Keeps letters, digits, '-' and '_'; anything else becomes '_'.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
