//! Multi-head self-attention as one CPU op: softmax(q k^T) v for every (sequence, head) pair in parallel,
//! reading q, k and v where the fused projection wrote them and writing each head's output straight into
//! its columns of the `(sequence x tokens) x hidden` result that the output projection reads. The
//! attention scale is already folded into q's weights; a causal mask is applied by computing only the
//! scores at or before each token.

use super::{vmath, Kernel, SharedMut};
use rayon::prelude::*;

/// `qkv`: `batch * tokens` rows of `3 * heads * head_dim` values (q, then k, then v, each head after
/// head); returns `batch * tokens` rows of `heads * head_dim`.
///
/// # Panics
/// If `qkv` does not hold `batch * tokens * 3 * heads * head_dim` values.
pub fn attention(
    kernel: Kernel,
    qkv: &[f32],
    (batch, tokens): (usize, usize),
    (heads, head_dim): (usize, usize),
    causal: bool,
) -> Vec<f32> {
    let hidden = heads * head_dim;
    assert_eq!(qkv.len(), batch * tokens * 3 * hidden, "qkv shape");
    let mut out = vec![0f32; batch * tokens * hidden];
    let out_ptr = SharedMut(out.as_mut_ptr());
    (0..batch * heads).into_par_iter().for_each_init(
        || vec![0f32; tokens],
        |scores, task| {
            let (b, h) = (task / heads, task % heads);
            let rows = &qkv[b * tokens * 3 * hidden..(b + 1) * tokens * 3 * hidden];
            for i in 0..tokens {
                // SAFETY: task (b, h) alone writes columns h*head_dim.. of sequence b's rows.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(
                        out_ptr.add((b * tokens + i) * hidden + h * head_dim),
                        head_dim,
                    )
                };
                let seen = if causal { i + 1 } else { tokens };
                head_row(
                    kernel,
                    rows,
                    (i, seen),
                    (hidden, h * head_dim, head_dim),
                    scores,
                    dst,
                );
            }
        },
    );
    out
}

/// Output row `i` of one head: scores of q_i against k_0..k_seen, softmax, weighted sum of v rows.
fn head_row(
    kernel: Kernel,
    rows: &[f32],
    (i, seen): (usize, usize),
    (hidden, col, head_dim): (usize, usize, usize),
    scores: &mut [f32],
    dst: &mut [f32],
) {
    #[inline(always)]
    fn body(
        rows: &[f32],
        (i, seen): (usize, usize),
        (hidden, col, head_dim): (usize, usize, usize),
        scores: &mut [f32],
        dst: &mut [f32],
    ) {
        let stride = 3 * hidden;
        let q = &rows[i * stride + col..][..head_dim];
        for (j, s) in scores[..seen].iter_mut().enumerate() {
            *s = vmath::dot_body(q, &rows[j * stride + hidden + col..][..head_dim]);
        }
        vmath::softmax_body(&mut scores[..seen]);
        for (j, &p) in scores[..seen].iter().enumerate() {
            vmath::axpy_body(p, &rows[j * stride + 2 * hidden + col..][..head_dim], dst);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(
            rows: &[f32],
            at: (usize, usize),
            cols: (usize, usize, usize),
            scores: &mut [f32],
            dst: &mut [f32],
        ) {
            body(rows, at, cols, scores, dst)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(
            rows: &[f32],
            at: (usize, usize),
            cols: (usize, usize, usize),
            scores: &mut [f32],
            dst: &mut [f32],
        ) {
            body(rows, at, cols, scores, dst)
        }
        let (at, cols) = ((i, seen), (hidden, col, head_dim));
        match kernel {
            // SAFETY: a `Kernel` level is only made after the CPU was checked for it.
            Kernel::Avx512 => unsafe { avx512(rows, at, cols, scores, dst) },
            // SAFETY: as above.
            Kernel::Avx2 => unsafe { avx2(rows, at, cols, scores, dst) },
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = kernel;
        body(rows, (i, seen), (hidden, col, head_dim), scores, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// The fused op against candle's plain ops (permute, matmul, mask add, softmax, matmul, transpose).
    #[test]
    fn fused_attention_matches_candle_ops() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        for kernel in Kernel::available() {
            for &(b, n, heads, d, causal) in &[
                (2, 7, 3, 16, false),
                (3, 77, 8, 64, true),
                (1, 50, 12, 64, false),
            ] {
                let hidden = heads * d;
                let qkv = Tensor::randn(0f32, 1.0, (b * n, 3 * hidden), &dev)?;
                let data = qkv.flatten_all()?.to_vec1::<f32>()?;
                let got = attention(kernel, &data, (b, n), (heads, d), causal);
                let t = qkv
                    .reshape((b, n, 3, heads, d))?
                    .permute((2, 0, 3, 1, 4))?
                    .contiguous()?;
                let (q, k, v) = (t.get(0)?, t.get(1)?, t.get(2)?);
                let mut scores = q.matmul(&k.t()?)?;
                if causal {
                    let mask: Vec<f32> = (0..n)
                        .flat_map(|i| {
                            (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })
                        })
                        .collect();
                    scores = scores.broadcast_add(&Tensor::from_vec(mask, (1, 1, n, n), &dev)?)?;
                }
                let want = candle_nn::ops::softmax_last_dim(&scores)?
                    .matmul(&v)?
                    .transpose(1, 2)?
                    .reshape((b * n, hidden))?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(g, w)| (g - w).abs())
                    .fold(0f32, f32::max);
                assert!(
                    worst < 5e-5,
                    "{kernel:?} b{b} n{n} h{heads} d{d} causal {causal}: {worst}"
                );
            }
        }
        Ok(())
    }
}
