//! Distance kernels: inner product and squared Euclidean distance on `f32` slices.
//!
//! One implementation per instruction set, chosen once at run time (the first call) for the CPU the process
//! runs on: AVX-512F where present, AVX2+FMA otherwise, portable Rust elsewhere. [`dot`] and [`l2_squared`]
//! call the chosen kernels; [`simd_level`] names them (for benchmark reports); [`available`] lists every
//! kernel set this CPU can run, so tests can check each against [`portable`].
//!
//! Kernels sum in different orders, so their results agree to float rounding, not bit for bit.

use std::fmt;
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod portable;

/// The instruction set a kernel set is written for, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    /// AVX-512F: 16 lanes, masked tails.
    Avx512,
    /// AVX2 with FMA: 8 lanes.
    Avx2,
    /// Plain Rust that the compiler vectorises for the build target (SSE2 on x86-64).
    Portable,
}

impl SimdLevel {
    /// Every level, best first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Portable];

    /// The level's name in reports: `"avx512"`, `"avx2"` or `"portable"`.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Portable => "portable",
        }
    }

    /// Whether this CPU can run the level's kernels.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            SimdLevel::Avx512 | SimdLevel::Avx2 => false,
            SimdLevel::Portable => true,
        }
    }

    /// The level's kernels, or `None` when this CPU cannot run them.
    pub fn kernels(self) -> Option<Kernels> {
        if !self.is_supported() {
            return None;
        }
        Some(match self {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => Kernels {
                level: self,
                dot: avx512::dot,
                l2_squared: avx512::l2_squared,
            },
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => Kernels {
                level: self,
                dot: avx2::dot,
                l2_squared: avx2::l2_squared,
            },
            #[cfg(not(target_arch = "x86_64"))]
            SimdLevel::Avx512 | SimdLevel::Avx2 => return None,
            SimdLevel::Portable => Kernels {
                level: self,
                dot: portable::dot,
                l2_squared: portable::l2_squared,
            },
        })
    }
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One level's kernels. Values only come from [`SimdLevel::kernels`], which checks the CPU first, so the
/// function pointers are always safe to call.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    pub level: SimdLevel,
    /// Inner product of two equally long slices.
    pub dot: fn(&[f32], &[f32]) -> f32,
    /// Squared Euclidean distance of two equally long slices.
    pub l2_squared: fn(&[f32], &[f32]) -> f32,
}

/// The kernels in use: the best level this CPU supports, chosen on the first call.
pub fn selected() -> &'static Kernels {
    static SELECTED: OnceLock<Kernels> = OnceLock::new();
    SELECTED.get_or_init(|| {
        let kernels = available().into_iter().next().unwrap_or(Kernels {
            level: SimdLevel::Portable,
            dot: portable::dot,
            l2_squared: portable::l2_squared,
        });
        tracing::debug!(level = %kernels.level, "distance kernels");
        kernels
    })
}

/// Every kernel set this CPU can run, best first ([`SimdLevel::Portable`] always last).
pub fn available() -> Vec<Kernels> {
    SimdLevel::ALL
        .iter()
        .filter_map(|level| level.kernels())
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

/// Squared Euclidean distance of two equally long slices, with the [`selected`] kernels.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (selected().l2_squared)(a, b)
}
