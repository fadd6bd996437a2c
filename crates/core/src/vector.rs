//! Vector arithmetic shared by the embedders and the indexes.

/// Lanes of [`dot`]'s partial sums.
const DOT_LANES: usize = 16;

/// Inner product of two equally long slices (the longer one's extra values are ignored). The products
/// are summed in 16 interleaved partial sums, which the compiler turns into vector adds and which hide
/// the add latency (one running sum is a chain of dependent additions it may not reorder). The index
/// crate's portable kernel is this function; its run-time-dispatched SIMD kernels serve the hot paths.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (a, b) = (
        a[..n].chunks_exact(DOT_LANES),
        b[..n].chunks_exact(DOT_LANES),
    );
    let tail: f32 = a
        .remainder()
        .iter()
        .zip(b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut partial = [0f32; DOT_LANES];
    for (x, y) in a.zip(b) {
        for ((p, x), y) in partial.iter_mut().zip(x).zip(y) {
            *p += x * y;
        }
    }
    partial.iter().sum::<f32>() + tail
}

/// Scales `v` to unit L2 length in place; a zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Normalises each `dim`-long row of a row-major matrix in place.
///
/// # Panics
/// When `dim` is zero.
pub fn normalize_rows(data: &mut [f32], dim: usize) {
    assert!(dim > 0, "normalize_rows: zero dimension");
    data.chunks_exact_mut(dim).for_each(normalize);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_unit_length_and_keeps_zero() {
        let mut v = [3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut z = [0.0f32; 3];
        normalize(&mut z);
        assert_eq!(z, [0.0; 3]);
        let mut rows = [3.0, 4.0, 0.0, 2.0];
        normalize_rows(&mut rows, 2);
        assert_eq!(rows, [0.6, 0.8, 0.0, 1.0]);
    }
}
