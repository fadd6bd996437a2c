//! Fault injection for the crash and fault tests: named points of an index run where a test can make the
//! process abort (`VSEARCH_FAULT_ABORT=<point>`, as a power cut or `kill -9` would) or make the next
//! write fail (`VSEARCH_FAULT_FAIL=<point>`, as a full disk would). Unset, each point costs one
//! comparison against a value read once.

use std::sync::OnceLock;

/// The points, in the order a run passes them.
pub const POINTS: [&str; 6] = [
    "decode",
    "embed",
    "matrix-write",
    "catalog-commit",
    "index-save",
    "state-write",
];

fn wanted(var: &'static str, cell: &'static OnceLock<Option<String>>) -> Option<&'static str> {
    cell.get_or_init(|| std::env::var(var).ok()).as_deref()
}

/// Aborts the process when `VSEARCH_FAULT_ABORT` names `point`.
pub fn abort_at(point: &str) {
    static ABORT: OnceLock<Option<String>> = OnceLock::new();
    if wanted("VSEARCH_FAULT_ABORT", &ABORT) == Some(point) {
        eprintln!("vsearch: fault injection: aborting at {point}");
        std::process::abort();
    }
}

/// Fails with "no space left on device" when `VSEARCH_FAULT_FAIL` names `point`.
pub fn fail_at(point: &str) -> std::io::Result<()> {
    static FAIL: OnceLock<Option<String>> = OnceLock::new();
    if wanted("VSEARCH_FAULT_FAIL", &FAIL) == Some(point) {
        #[cfg(unix)]
        return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        #[cfg(not(unix))]
        return Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device (injected)",
        ));
    }
    Ok(())
}
