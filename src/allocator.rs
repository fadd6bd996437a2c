//! The process's allocator, shared by the `vsearch` binary and the benchmarks (which include this file with
//! `#[path]`), so that both measure the same thing.

/// mimalloc keeps freed buffers for reuse; with the system allocator every tensor operation of a model takes
/// fresh pages from the OS (page faults and zeroing, a large share of CPU inference time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, v2 and v3: the option before
/// `mi_option_use_numa_nodes`, which `libmimalloc-sys` names; it names no purge option for v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Keeps memory that the process frees for its next allocations instead of returning it to the OS 10 ms
/// later (mimalloc's default): a model's activations of tens of MB are freed and allocated again at every
/// layer, and each return made the next allocation fault in and zero fresh pages (10% of CLIP's CPU time
/// at ViT-L/14; `perf stat -e page-faults`: 42,000 faults against 800 for a ViT-B/16 benchmark run). The
/// resident memory stays at the run's peak.
pub fn keep_freed_memory() {
    // SAFETY: sets a plain integer option of the allocator this process links.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}
