//! Distance kernels: inner product and squared Euclidean distance on `f32` slices, and the inner product
//! of `i8` slices (the int8 codes of a quantized index).
//!
//! One implementation per instruction set, chosen once at run time (the first call) for the CPU the process
//! runs on: AVX-512F where present, AVX2+FMA otherwise, portable Rust elsewhere. [`dot`] and [`l2_squared`]
//! call the chosen kernels; [`simd_level`] names them (for benchmark reports); [`available`] lists every
//! kernel set this CPU can run, so tests can check each against [`portable`].
//!
//! Kernels sum in different orders, so their results agree to float rounding, not bit for bit.

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod portable;

pub use vsearch_core::simd::SimdLevel;

/// The level's kernels, or `None` when this CPU cannot run them.
pub fn kernels(level: SimdLevel) -> Option<Kernels> {
    if !level.is_supported() {
        return None;
    }
    Some(match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => Kernels {
            level,
            dot: avx512::dot,
            l2_squared: avx512::l2_squared,
            dot_i8: if avx512::has_byte_ops() {
                avx512::dot_i8
            } else {
                avx2::dot_i8
            },
        },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => Kernels {
            level,
            dot: avx2::dot,
            l2_squared: avx2::l2_squared,
            dot_i8: avx2::dot_i8,
        },
        #[cfg(not(target_arch = "x86_64"))]
        SimdLevel::Avx512 | SimdLevel::Avx2 => return None,
        SimdLevel::Portable => Kernels {
            level,
            dot: portable::dot,
            l2_squared: portable::l2_squared,
            dot_i8: portable::dot_i8,
        },
    })
}

/// One level's kernels. Values only come from [`kernels`], which checks the CPU first, so the
/// function pointers are always safe to call.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    pub level: SimdLevel,
    /// Inner product of two equally long slices.
    pub dot: fn(&[f32], &[f32]) -> f32,
    /// Squared Euclidean distance of two equally long slices.
    pub l2_squared: fn(&[f32], &[f32]) -> f32,
    /// Inner product of two equally long slices of signed bytes, exact (the int8 codes' distance).
    pub dot_i8: fn(&[i8], &[i8]) -> i32,
}

/// The kernels in use: the best level this CPU supports, chosen on the first call.
pub fn selected() -> &'static Kernels {
    static SELECTED: OnceLock<Kernels> = OnceLock::new();
    SELECTED.get_or_init(|| {
        let kernels = available().into_iter().next().unwrap_or(Kernels {
            level: SimdLevel::Portable,
            dot: portable::dot,
            l2_squared: portable::l2_squared,
            dot_i8: portable::dot_i8,
        });
        tracing::debug!(level = %kernels.level, "distance kernels");
        kernels
    })
}

/// Every kernel set this CPU can run, best first ([`SimdLevel::Portable`] always last).
pub fn available() -> Vec<Kernels> {
    SimdLevel::ALL
        .iter()
        .filter_map(|&level| kernels(level))
        .collect()
}

/// The name of the kernels in use: `"avx512"`, `"avx2"` or `"portable"` (see [`SimdLevel::name`]).
pub fn simd_level() -> &'static str {
    selected().level.name()
}

/// Inner product of two equally long slices, with the [`selected`] kernels.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (selected().dot)(a, b)
}

/// Inner product of two equally long slices of signed bytes, with the [`selected`] kernels; exact for
/// values in -127..=127, the range of int8 codes (the AVX2 kernel multiplies `|a|` as unsigned bytes).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    (selected().dot_i8)(a, b)
}

/// Squared Euclidean distance of two equally long slices, with the [`selected`] kernels.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (selected().l2_squared)(a, b)
}
