//! The BLAS library FAISS's matrix products run on, as loaded at run time.
//!
//! `faiss-sys` links `-lblas -llapack`; on Debian and Ubuntu those names resolve, through the alternatives
//! system, to one of OpenBLAS's builds. Which build matters: OpenBLAS's **pthread** build keeps its own
//! thread pool, which busy-waits beside FAISS's OpenMP threads on every k-means block and ignores
//! `omp_set_num_threads`; its **OpenMP** build runs on libgomp's pool, obeys the OpenMP thread count that
//! [`super::set_threads`] sets, and stays on one thread inside FAISS's own parallel regions.
//! `scripts/install_system_deps.sh` installs and selects the OpenMP build. This module reads which one was
//! loaded (OpenBLAS's own `openblas_get_parallel` and `openblas_get_config`, looked up by name so that any
//! other BLAS still links and runs) and, for the pthread build, caps its threads at the requested count.

use std::ffi::{c_char, c_int, CStr};
use std::fmt;
use std::sync::OnceLock;

/// How the loaded BLAS runs its threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlasThreading {
    /// OpenBLAS built without threads.
    Sequential,
    /// OpenBLAS's pthread build: its own thread pool beside OpenMP's.
    Pthreads,
    /// OpenBLAS's OpenMP build: libgomp's pool, shared with FAISS.
    OpenMp,
    /// Not OpenBLAS (reference BLAS, BLIS, MKL, ...): not known.
    Unknown,
}

impl BlasThreading {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            BlasThreading::Sequential => "sequential",
            BlasThreading::Pthreads => "pthreads",
            BlasThreading::OpenMp => "OpenMP",
            BlasThreading::Unknown => "unknown threading",
        }
    }
}

/// The BLAS loaded into this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlasInfo {
    /// OpenBLAS's configuration line (version, kernel target, threading), or `None` for another BLAS.
    pub config: Option<String>,
    pub threading: BlasThreading,
}

impl fmt::Display for BlasInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.config {
            Some(c) => write!(f, "{c} ({})", self.threading.name()),
            None => f.write_str("a BLAS other than OpenBLAS"),
        }
    }
}

/// The loaded BLAS, read once.
pub fn blas() -> &'static BlasInfo {
    static INFO: OnceLock<BlasInfo> = OnceLock::new();
    INFO.get_or_init(|| {
        let threading = match lookup::<unsafe extern "C" fn() -> c_int>(c"openblas_get_parallel") {
            // SAFETY: OpenBLAS's `int openblas_get_parallel(void)`, no arguments, no side effects.
            Some(f) => match unsafe { f() } {
                0 => BlasThreading::Sequential,
                1 => BlasThreading::Pthreads,
                2 => BlasThreading::OpenMp,
                _ => BlasThreading::Unknown,
            },
            None => BlasThreading::Unknown,
        };
        let config = lookup::<unsafe extern "C" fn() -> *const c_char>(c"openblas_get_config")
            // SAFETY: OpenBLAS's `char *openblas_get_config(void)` returns a static NUL-terminated string.
            .map(|f| unsafe { f() })
            .filter(|p| !p.is_null())
            // SAFETY: non-null, NUL-terminated and static, as above.
            .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().trim().to_string());
        let info = BlasInfo { config, threading };
        if threading == BlasThreading::Pthreads {
            tracing::warn!(
                blas = %info,
                "FAISS runs on OpenBLAS's pthread build, whose threads busy-wait beside FAISS's OpenMP threads \
                 (IVF builds slow down, most under load): run scripts/install_system_deps.sh, which selects \
                 the OpenMP build, or start with \
                 LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp"
            );
        }
        info
    })
}

/// Gives OpenBLAS's pthread build the thread count FAISS gets (its pool ignores OpenMP's). The OpenMP build
/// follows `omp_set_num_threads` by itself.
pub(super) fn set_threads(n: c_int) {
    if blas().threading != BlasThreading::Pthreads {
        return;
    }
    if let Some(f) = lookup::<unsafe extern "C" fn(c_int)>(c"openblas_set_num_threads") {
        // SAFETY: OpenBLAS's `void openblas_set_num_threads(int)`; `n` is at least 1.
        unsafe { f(n) };
    }
}

/// The function `name` among the symbols already loaded into the process, if any.
fn lookup<F: Copy>(name: &CStr) -> Option<F> {
    assert_eq!(
        std::mem::size_of::<F>(),
        std::mem::size_of::<*mut libc::c_void>(),
        "a function pointer"
    );
    // SAFETY: dlsym with RTLD_DEFAULT only reads the loaded objects' symbol tables.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    // SAFETY: a non-null symbol of that name is the function the caller's type describes (OpenBLAS's
    // documented C interface); F is pointer-sized, as asserted.
    (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut libc::c_void, F>(&p) })
}
