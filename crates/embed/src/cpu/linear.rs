//! `y = x W^T + b` on the CPU with `W` packed once, at load time, into the column panels the tile
//! kernels read ([`super::gemm`]), so no call repacks weights.
//!
//! A call packs the activations into row blocks (spread over the kernel threads, [`super::team`]),
//! then splits the weight panels among the threads; each thread fills its columns of the output with
//! the bias (and the residual, [`Epilogue::AddTo`]) and accumulates the product into them;
//! [`Epilogue::Silu`] or [`Epilogue::GeluTanh`] is applied to each finished block while it is still in
//! cache.

use super::gemm::{pack_block, pack_panels, row_blocks, OutputActivation, OutputStart, Product};
use super::team;
use super::{Kernel, Unfilled};

/// What happens to the product before it is returned.
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    /// `x W^T + b`.
    None,
    /// `silu(x W^T + b)`.
    Silu,
    /// `gelu_tanh(x W^T + b)` (transformers' `gelu_pytorch_tanh`).
    GeluTanh,
    /// `r + x W^T + b`, `r` holding `m x n` values (a residual stream).
    AddTo(&'a [f32]),
}

/// A linear layer's weights packed for the CPU tile kernels of one [`Kernel`] level.
pub struct PackedLinear {
    kernel: Kernel,
    /// Output features.
    n: usize,
    /// Input features.
    k: usize,
    /// The weight's panels ([`pack_panels`]).
    panels: Vec<f32>,
    /// `n` values (zeros for a layer without bias).
    bias: Vec<f32>,
}

impl std::fmt::Debug for PackedLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedLinear")
            .field("kernel", &self.kernel)
            .field("in_features", &self.k)
            .field("out_features", &self.n)
            .finish()
    }
}

impl PackedLinear {
    /// Packs `weight` (`n x k`, row-major: `n` output features of `k` inputs, as stored by PyTorch and
    /// candle) and `bias` (`n` values) for `kernel`.
    ///
    /// # Panics
    /// If `weight` does not hold `n * k` values or `bias` not `n`: the caller read both from one layer.
    pub fn new(kernel: Kernel, weight: &[f32], bias: Option<&[f32]>, n: usize, k: usize) -> Self {
        assert_eq!(weight.len(), n * k, "weight is not {n} x {k}");
        let mut panels = Vec::new();
        pack_panels(kernel, (n, k), |j, p| weight[j * k + p], &mut panels);
        let bias = match bias {
            Some(b) => {
                assert_eq!(b.len(), n, "bias is not {n} values");
                b.to_vec()
            }
            None => vec![0.0; n],
        };
        Self {
            kernel,
            n,
            k,
            panels,
            bias,
        }
    }

    /// The SIMD level the weights are packed for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.k
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.n
    }

    /// `x` (`m x k`, row-major) through the layer and `epilogue`: `m x n` values.
    ///
    /// # Panics
    /// If `x` is not a whole number of `k`-value rows, or an [`Epilogue::AddTo`] residual is not `m x n`.
    pub fn forward(&self, x: &[f32], epilogue: Epilogue<'_>) -> Vec<f32> {
        let (n, k, nr) = (self.n, self.k, self.kernel.nr());
        let m = input_rows(x, (n, k), epilogue);
        let blocks = row_blocks(m, self.kernel.mr());
        let packed = pack_rows(x, k, &blocks);
        let product = Product {
            kernel: self.kernel,
            a: &packed,
            blocks: &blocks,
            panels: &self.panels,
            n,
            k,
        };
        let residual = |row: usize, c0: usize, dst: &mut [f32]| {
            if let Epilogue::AddTo(r) = epilogue {
                for (d, r) in dst.iter_mut().zip(&r[row * n + c0..]) {
                    *d += r;
                }
            }
        };
        let activation = match epilogue {
            Epilogue::Silu => OutputActivation::Silu,
            Epilogue::GeluTanh => OutputActivation::GeluTanh,
            Epilogue::None | Epilogue::AddTo(_) => OutputActivation::None,
        };
        let mut out = Unfilled::new(m * n);
        let panels = n.div_ceil(nr);
        // Several column ranges per thread: a thread that another process holds back leaves the rest
        // of its share to the others (each range reads the packed rows again, from cache).
        let parts = (COLUMN_RANGES_PER_THREAD * team::threads()).clamp(1, panels.max(1));
        let out_ptr = out.shared();
        team::for_each(parts, |t| {
            let (j0, j1) = (t * panels / parts, (t + 1) * panels / parts);
            // SAFETY: `out` holds the m x n output and outlives the loop; task t alone touches
            // columns [j0 * nr, j1 * nr) of it.
            unsafe {
                product.columns(
                    out_ptr.add(0),
                    n,
                    (j0, j1),
                    OutputStart::PerColumn(&self.bias),
                    residual,
                    activation,
                )
            };
        });
        // SAFETY: the parts' panels cover columns 0..n of all m rows.
        unsafe { out.filled() }
    }
}

/// The rows of a layer's input `x` (`k` values each) for a layer of `n` outputs, checked as
/// [`PackedLinear::forward`] states (and [`super::QuantizedLinear::forward`]).
///
/// # Panics
/// If `x` is not a whole number of `k`-value rows, or an [`Epilogue::AddTo`] residual is not `m x n`.
pub(super) fn input_rows(x: &[f32], (n, k): (usize, usize), epilogue: Epilogue<'_>) -> usize {
    assert!(
        k > 0 && x.len().is_multiple_of(k),
        "input is not rows of {k} values"
    );
    let m = x.len() / k;
    if let Epilogue::AddTo(r) = epilogue {
        assert_eq!(r.len(), m * n, "residual is not {m} x {n}");
    }
    m
}

/// Column ranges of a product per kernel thread.
pub(super) const COLUMN_RANGES_PER_THREAD: usize = 4;

/// Inputs up to this many values are packed on the calling thread: a parallel region costs a hand-off
/// between threads, which is slow when other processes compete for the cores.
const PACK_INLINE_MAX: usize = 256 * 1024;

/// Packs `x` (`m x k`) into `blocks` ([`pack_block`]), spread over the kernel threads when it is large.
fn pack_rows(x: &[f32], k: usize, blocks: &[(usize, usize)]) -> Vec<f32> {
    let mut packed = Unfilled::new(x.len());
    let dst = packed.shared();
    let pack = |b: usize| {
        let block: (usize, usize) = blocks[b];
        // SAFETY: block b alone is packed into values block.0 * k .. (block.0 + block.1) * k of
        // `packed`, which outlives the loop.
        let part = unsafe { dst.part(block.0 * k, block.1 * k) };
        pack_block(k, block, |i, p| x[i * k + p], part);
    };
    if x.len() <= PACK_INLINE_MAX {
        (0..blocks.len()).for_each(pack);
    } else {
        team::for_each(blocks.len(), pack);
    }
    // SAFETY: the blocks cover the m rows of `x`, all of `packed`.
    unsafe { packed.filled() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], w: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|p| f64::from(x[i * k + p]) * f64::from(w[j * k + p]))
                    .sum();
                y[i * n + j] = s as f32 + b[j];
            }
        }
        y
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0) - 1.0)
            .collect()
    }

    /// Every level, odd shapes (partial panels, ragged row blocks, several panel slices), each epilogue.
    #[test]
    fn packed_linear_matches_the_plain_product() {
        for kernel in crate::cpu::testing::levels("embed packed linear f32") {
            for &(m, n, k) in &[
                (1, 1, 1),
                (5, 7, 3),
                (50, 96, 300),
                (77, 40, 513),
                (30, 70, 1100),
                (250, 33, 64),
            ] {
                let (x, w, b) = (values(m * k, 1), values(n * k, 2), values(n, 3));
                let layer = PackedLinear::new(kernel, &w, Some(&b), n, k);
                let want = reference(&x, &w, &b, m, n, k);
                let tol = 1e-5 * k as f32;
                let close = |got: &[f32], want: &[f32], what: &str| {
                    for (i, (g, w)) in got.iter().zip(want).enumerate() {
                        assert!(
                            (g - w).abs() <= tol,
                            "{kernel:?} {m}x{n}x{k} {what}: [{i}] {g} vs {w}"
                        );
                    }
                };
                close(&layer.forward(&x, Epilogue::None), &want, "plain");
                let silu: Vec<f32> = want.iter().map(|v| v / (1.0 + (-v).exp())).collect();
                close(&layer.forward(&x, Epilogue::Silu), &silu, "silu");
                let gelu: Vec<f32> = want
                    .iter()
                    .map(|&v| crate::cpu::testing::gelu_tanh(v))
                    .collect();
                close(&layer.forward(&x, Epilogue::GeluTanh), &gelu, "gelu_tanh");
                let r = values(m * n, 4);
                let added: Vec<f32> = want.iter().zip(&r).map(|(v, r)| v + r).collect();
                close(&layer.forward(&x, Epilogue::AddTo(&r)), &added, "residual");
            }
        }
    }
}
