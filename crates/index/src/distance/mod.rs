//! Distance kernels: inner product and squared Euclidean distance on `f32` slices, and the inner product
//! of `i8` slices (the int8 codes of a quantized index).
//!
//! One implementation per instruction set, chosen once at run time (the first call) for the CPU the process
//! runs on: AVX-512F where present, AVX2+FMA otherwise, portable Rust elsewhere. [`dot`] and [`l2_squared`]
//! call the chosen kernels; [`simd_level`] names them (for benchmark reports); [`available`] lists every
//! kernel set this CPU can run, so tests can check each against [`portable`]. The int8 inner product has
//! more than one kernel per level ([`ByteDot`]: AVX-512 with VNNI's `vpdpbusd` or without); each level
//! uses the best its CPU runs.
//!
//! Kernels sum in different orders, so their results agree to float rounding, not bit for bit.

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod portable;

pub use vsearch_core::simd::SimdLevel;

/// A kernel on two equally long `f32` slices (inner product or squared Euclidean distance).
pub type FloatKernel = fn(&[f32], &[f32]) -> f32;
/// A kernel on two equally long slices of signed bytes (their inner product, exact).
pub type ByteKernel = fn(&[i8], &[i8]) -> i32;

/// The level's kernels, or `None` when this CPU cannot run them.
pub fn kernels(level: SimdLevel) -> Option<Kernels> {
    if !level.is_supported() {
        return None;
    }
    let (dot, l2_squared): (FloatKernel, FloatKernel) = match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => (avx512::dot, avx512::l2_squared),
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => (avx2::dot, avx2::l2_squared),
        #[cfg(not(target_arch = "x86_64"))]
        SimdLevel::Avx512 | SimdLevel::Avx2 => return None,
        SimdLevel::Portable => (portable::dot, portable::l2_squared),
    };
    // The best byte kernel of this level or the one below (an AVX-512 CPU without AVX-512BW runs AVX2's).
    let (byte_dot, dot_i8) = ByteDot::ALL
        .into_iter()
        .filter(|k| rank(k.level()) >= rank(level))
        .find_map(|k| Some((k, k.kernel()?)))?;
    Some(Kernels {
        level,
        dot,
        l2_squared,
        byte_dot,
        dot_i8,
    })
}

/// A level's place in [`SimdLevel::ALL`] (0 the best).
fn rank(level: SimdLevel) -> usize {
    SimdLevel::ALL
        .iter()
        .position(|&l| l == level)
        .unwrap_or(SimdLevel::ALL.len())
}

/// The int8 inner-product kernels, best first: one level may have more than one (AVX-512 with and
/// without VNNI), so they are named apart from [`SimdLevel`], for tests that check each and for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteDot {
    /// `vpdpbusd` on 64 bytes (AVX-512 VNNI: Ice Lake, Zen 4 and later).
    Avx512Vnni,
    /// Sign-extended to 16 bits, `vpmaddwd` on 32 pairs (AVX-512BW).
    Avx512Bw,
    /// `vpmaddubsw` of `|a|` and `b` signed by `a`, 32 bytes (AVX2).
    Avx2,
    /// Plain Rust.
    Portable,
}

impl ByteDot {
    /// Every kernel, best first.
    pub const ALL: [ByteDot; 4] = [
        ByteDot::Avx512Vnni,
        ByteDot::Avx512Bw,
        ByteDot::Avx2,
        ByteDot::Portable,
    ];

    /// Its name in reports and tests: `"avx512-vnni"`, `"avx512bw"`, `"avx2"` or `"portable"`.
    pub fn name(self) -> &'static str {
        match self {
            ByteDot::Avx512Vnni => "avx512-vnni",
            ByteDot::Avx512Bw => "avx512bw",
            ByteDot::Avx2 => "avx2",
            ByteDot::Portable => "portable",
        }
    }

    /// The SIMD level whose [`Kernels`] may use it.
    pub fn level(self) -> SimdLevel {
        match self {
            ByteDot::Avx512Vnni | ByteDot::Avx512Bw => SimdLevel::Avx512,
            ByteDot::Avx2 => SimdLevel::Avx2,
            ByteDot::Portable => SimdLevel::Portable,
        }
    }

    /// The kernel, or `None` when this CPU cannot run it.
    pub fn kernel(self) -> Option<ByteKernel> {
        match self {
            #[cfg(target_arch = "x86_64")]
            ByteDot::Avx512Vnni => avx512::has_vnni().then_some(avx512::dot_i8_vnni as _),
            #[cfg(target_arch = "x86_64")]
            ByteDot::Avx512Bw => avx512::has_byte_ops().then_some(avx512::dot_i8 as _),
            #[cfg(target_arch = "x86_64")]
            ByteDot::Avx2 => SimdLevel::Avx2.is_supported().then_some(avx2::dot_i8 as _),
            #[cfg(not(target_arch = "x86_64"))]
            ByteDot::Avx512Vnni | ByteDot::Avx512Bw | ByteDot::Avx2 => None,
            ByteDot::Portable => Some(portable::dot_i8),
        }
    }

    /// The kernel [`dot_i8`] uses.
    pub fn selected() -> ByteDot {
        selected().byte_dot
    }
}

/// One level's kernels. Values only come from [`kernels`], which checks the CPU first, so the
/// function pointers are always safe to call.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    pub level: SimdLevel,
    /// Inner product of two equally long slices.
    pub dot: FloatKernel,
    /// Squared Euclidean distance of two equally long slices.
    pub l2_squared: FloatKernel,
    /// Which kernel [`Kernels::dot_i8`] is.
    pub byte_dot: ByteDot,
    /// Inner product of two equally long slices of signed bytes, exact (the int8 codes' distance).
    pub dot_i8: ByteKernel,
}

/// The kernels in use: the best level this CPU supports, chosen on the first call.
pub fn selected() -> &'static Kernels {
    static SELECTED: OnceLock<Kernels> = OnceLock::new();
    SELECTED.get_or_init(|| {
        let kernels = available().into_iter().next().unwrap_or(Kernels {
            level: SimdLevel::Portable,
            dot: portable::dot,
            l2_squared: portable::l2_squared,
            byte_dot: ByteDot::Portable,
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
