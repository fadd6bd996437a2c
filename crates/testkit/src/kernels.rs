//! Tests of architecture-specific kernels (the embedding's f32 and int8 tiles, the index's distance
//! kernels) say which levels they exercised: each level a test ran is appended as one line
//! `LEVEL<TAB>WHAT<TAB>TEST` to the file named by `VSEARCH_KERNEL_LOG` (set by `scripts/test.sh`, which
//! prints them at the end), and echoed on stderr. A level this CPU cannot run is a skip by the level's
//! name (`avx512`, `avx2`: see [`crate::skip`]), never a silent pass.

use crate::skip;

/// The variable that names the file the exercised levels are recorded in.
pub const LOG: &str = "VSEARCH_KERNEL_LOG";

/// The levels of `levels` (each with its name and whether this CPU runs it) that the calling test can
/// exercise for `what` (e.g. "embed linear f32"): each is recorded as exercised; each one this CPU
/// cannot run is a skip named after the level (a failure unless the run allows it).
pub fn levels<T: Copy>(what: &str, levels: &[(T, &str, bool)]) -> Vec<T> {
    levels
        .iter()
        .filter(|&&(_, name, supported)| runs(what, name, supported))
        .map(|&(level, _, _)| level)
        .collect()
}

/// Whether the calling test can exercise the level `name` for `what`: records it as exercised when
/// `supported`; otherwise a skip named `name` (panics unless the run allows it) and `false`.
pub fn runs(what: &str, name: &str, supported: bool) -> bool {
    if !supported {
        skip::missing(
            name,
            &format!("this CPU has no {name}, so the {name} kernels of {what} are not checked"),
        );
        return false;
    }
    exercised(what, name);
    true
}

/// Records that the calling test exercised the level `name` for `what`.
pub fn exercised(what: &str, name: &str) {
    let test = skip::current_test();
    eprintln!("{test}: exercised the {name} kernels of {what}");
    skip::append(LOG, &format!("{name}\t{what}\t{test}\n"), &test);
}
