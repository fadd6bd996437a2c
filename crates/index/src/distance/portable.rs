//! Kernels in plain Rust: 16 independent partial sums per step, which the compiler turns into vector
//! instructions for the build target and which hide the add latency. The reference the SIMD kernels are
//! tested against. Slices of unequal length are compared over the shorter one.

const LANES: usize = 16;

/// Inner product: core's [`vsearch_core::vector::dot`], the same 16 partial sums.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    vsearch_core::vector::dot(a, b)
}

/// Squared Euclidean distance.
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (a_blocks, b_blocks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_tail, b_tail) = (a_blocks.remainder(), b_blocks.remainder());
    for (x, y) in a_blocks.zip(b_blocks) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let tail: f32 = a_tail
        .iter()
        .zip(b_tail)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// Inner product of signed bytes, exact in `i32` (any length up to 2^17 bytes: each product is at most
/// 2^14 in magnitude).
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0i32; LANES];
    let (a_blocks, b_blocks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_tail, b_tail) = (a_blocks.remainder(), b_blocks.remainder());
    for (x, y) in a_blocks.zip(b_blocks) {
        for i in 0..LANES {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    let tail: i32 = a_tail
        .iter()
        .zip(b_tail)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    acc.iter().sum::<i32>() + tail
}
