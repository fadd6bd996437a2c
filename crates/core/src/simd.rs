//! The instruction sets vsearch's CPU kernels are written for (the embedding's tile kernels and the
//! index's distance kernels), and whether the CPU the process runs on has them. Each crate picks its
//! kernels at run time from these, so one binary runs on any x86-64.

use std::fmt;

/// An instruction set a kernel is written for, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    /// AVX-512F: 16 lanes, 32 registers, masked tails.
    Avx512,
    /// AVX2 with FMA: 8 lanes, 16 registers.
    Avx2,
    /// Plain Rust that the compiler vectorises for the build target (SSE2 on x86-64).
    Portable,
}

impl SimdLevel {
    /// Every level, best first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Portable];

    /// The level's name in reports and settings: `"avx512"`, `"avx2"` or `"portable"`.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Portable => "portable",
        }
    }

    /// Whether this CPU can run the level's instructions (checked at run time).
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
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_is_last_and_always_supported() {
        assert_eq!(SimdLevel::ALL.last(), Some(&SimdLevel::Portable));
        assert!(SimdLevel::Portable.is_supported());
        // A CPU with AVX-512F here has AVX2 and FMA too (every AVX-512 CPU does).
        if SimdLevel::Avx512.is_supported() {
            assert!(SimdLevel::Avx2.is_supported());
        }
    }
}
