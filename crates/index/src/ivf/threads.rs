//! How many OpenMP threads FAISS uses.
//!
//! FAISS parallelises training, adding, removing and batched search with OpenMP (`faiss-sys` links GNU
//! libgomp). OpenMP keeps the thread count per calling thread: `omp_set_num_threads` on one thread does not
//! reach another (a rayon worker that calls FAISS would still use the default, one thread per core). So
//! [`set_threads`] records the count and [`apply`] sets it, once, on each thread before it calls FAISS.

use std::cell::Cell;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicI32, Ordering};

extern "C" {
    // GNU libgomp, linked by faiss-sys (`cargo:rustc-link-lib=gomp`).
    fn omp_set_num_threads(n: c_int);
    fn omp_get_max_threads() -> c_int;
}

/// The count set by [`set_threads`]; 0 until then (OpenMP's default: `OMP_NUM_THREADS`, else one per core).
static REQUESTED: AtomicI32 = AtomicI32::new(0);

thread_local! {
    /// The count last given to OpenMP on this thread (0: none).
    static APPLIED: Cell<i32> = const { Cell::new(0) };
}

/// Sets how many threads FAISS uses for one call (training, adding, removing, a batch of queries), from now
/// on and on every thread; at least 1. Rayon's thread pools are not affected.
///
/// A batch of `n` queries runs on at most `n` threads, so single-query searches stay on their caller's
/// thread whatever this says.
pub fn set_threads(n: usize) {
    let n = n.clamp(1, c_int::MAX as usize) as i32;
    REQUESTED.store(n, Ordering::Relaxed);
    super::blas::set_threads(n);
    apply();
}

/// The number of threads FAISS would use for a call made from this thread now.
pub fn threads() -> usize {
    apply();
    // SAFETY: a plain query of the calling thread's OpenMP settings.
    let n = unsafe { omp_get_max_threads() };
    n.max(1) as usize
}

/// Gives this thread's OpenMP the count of [`set_threads`], if one was set and this thread has not had it.
pub(crate) fn apply() {
    let want = REQUESTED.load(Ordering::Relaxed);
    if want == 0 {
        return;
    }
    APPLIED.with(|applied| {
        if applied.get() != want {
            // SAFETY: sets an OpenMP setting of the calling thread; `want` is at least 1.
            unsafe { omp_set_num_threads(want) };
            applied.set(want);
        }
    });
}
