//! Tests that need something from outside the checkout (the Qdrant server binary, a CPU with AVX2 or
//! AVX-512) fail when it is missing, unless the run allows that skip by name:
//! `VSEARCH_ALLOW_SKIP=qdrant,avx2,avx512,tmpfs` (a comma list; `.ci/run` allows only `avx512`, which a
//! CI machine drawn by chance may lack, and `tmpfs`, mounting one, which needs root). An allowed skip says so on stderr and appends one line to the
//! file named by `VSEARCH_SKIP_LOG` (set by `scripts/test.sh`, which lists the skips at the end), so a
//! run that skipped never ends with a plain "all tests passed".

/// The variable that names the skips a run allows.
pub const ALLOW: &str = "VSEARCH_ALLOW_SKIP";
/// The variable that names the file an allowed skip is recorded in.
pub const LOG: &str = "VSEARCH_SKIP_LOG";

/// Whether `VSEARCH_ALLOW_SKIP` lists `need`.
pub fn allowed(need: &str) -> bool {
    std::env::var(ALLOW)
        .unwrap_or_default()
        .split(',')
        .any(|name| name.trim() == need)
}

/// The calling test cannot run here because `need` is missing (`why` says what and where). Panics, naming
/// what is missing and the switch that would allow the skip, unless `VSEARCH_ALLOW_SKIP` lists `need`;
/// then records the skip and returns, and the test should return.
pub fn missing(need: &str, why: &str) {
    let test = current_test();
    let test = test.as_str();
    if !allowed(need) {
        panic!("{test}: {why}. Provide it, or set {ALLOW}={need} to let this test skip (it is then listed as skipped)");
    }
    eprintln!("SKIPPED {test}: {why} ({ALLOW}={need})");
    record(need, test, why);
}

/// Appends `need<TAB>test<TAB>why` to the `VSEARCH_SKIP_LOG` file, when one is named. `O_APPEND` writes of
/// one short line each do not interleave between the tests of one process.
fn record(need: &str, test: &str, why: &str) {
    append(LOG, &format!("{need}\t{test}\t{why}\n"), test);
}

/// Appends `line` to the file named by the variable `var`, when one is named (`test` names the caller in
/// the panic when it cannot).
pub(crate) fn append(var: &str, line: &str, test: &str) {
    let Some(path) = std::env::var_os(var) else {
        return;
    };
    use std::io::Write;
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    // A line that cannot be recorded would go unreported: fail the test instead.
    if let Err(e) = written {
        panic!(
            "{test}: cannot record in {} ({var}): {e}",
            path.to_string_lossy()
        );
    }
}

/// The running test's name: libtest names each test's thread after the test (`module::test_name`).
pub(crate) fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}
