//! CPU convolution kernels for EfficientNet-Lite0 on NCHW `f32` tensors: depthwise ([`depthwise_conv`])
//! and small dense (stem, [`dense_conv`]) convolutions with TF 'SAME' padding, and the 1x1 (pointwise,
//! [`pointwise_conv`]) convolution as a matrix product, each with the folded batch-norm bias and optional
//! ReLU6 fused in; plus the TF 'SAME' padding rule ([`same_padding`], [`pad_same`]) that the model's
//! candle path shares.
//!
//! candle runs a grouped convolution as one convolution per group, which makes depthwise layers the
//! bulk of Lite0's time; these kernels replace them on the CPU. Other devices keep candle's ops.

pub use super::on_cpu;
use super::{kernel_err, with_cpu_slice};
use crate::error::Result;
use candle_core::Tensor;
use rayon::prelude::*;

/// Output positions computed together in registers (one AVX register of `f32`).
const LANES: usize = 8;

/// TF 'SAME' padding of one spatial dimension: `(output size, padding before, total padding)`; the odd
/// pixel goes after (bottom/right).
pub fn same_padding(n: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let out = n.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(n);
    (out, total / 2, total)
}

/// Zero-pads the two spatial dimensions of an `N x C x H x W` tensor (any device) for a TF 'SAME'
/// convolution with `kernel` and `stride` ([`same_padding`]).
pub fn pad_same(x: &Tensor, kernel: usize, stride: usize) -> Result<Tensor> {
    let mut x = x.clone();
    for dim in [2, 3] {
        let (_, before, total) = same_padding(x.dim(dim)?, kernel, stride);
        if total > 0 {
            x = x.pad_with_zeros(dim, before, total - before)?;
        }
    }
    Ok(x)
}

/// Depthwise convolution of an `N x C x H x W` CPU tensor with TF 'SAME' padding.
///
/// `weight` holds `C x kernel x kernel` taps (batch norm already folded in), `bias` one value per channel;
/// `relu6` clamps the output to `[0, 6]`. Channels are spread over rayon's threads.
pub fn depthwise_conv(
    x: &Tensor,
    weight: &[f32],
    bias: &[f32],
    kernel: usize,
    stride: usize,
    relu6: bool,
) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    if weight.len() != c * kernel * kernel || bias.len() != c || stride == 0 || kernel == 0 {
        return Err(kernel_err(
            "depthwise weight shape does not match the input",
        ));
    }
    let geom = Geometry::new(h, w, kernel, stride);
    let plane_out = geom.oh * geom.ow;
    let mut out = vec![0f32; n * c * plane_out];
    with_cpu_slice(x, |src| {
        out.par_chunks_mut(plane_out)
            .zip(src.par_chunks(h * w))
            .enumerate()
            .for_each_init(Vec::new, |scratch, (i, (dst, plane))| {
                let ch = i % c;
                let taps = &weight[ch * kernel * kernel..(ch + 1) * kernel * kernel];
                geom.plane(plane, dst, taps, bias[ch], relu6, scratch);
            });
        Ok(())
    })?;
    Ok(Tensor::from_vec(out, (n, c, geom.oh, geom.ow), x.device())?)
}

/// Shapes of one depthwise plane: input, padding, output and the stride-phase scratch layout.
struct Geometry {
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    oh: usize,
    ow: usize,
    pad_top: usize,
    pad_left: usize,
    /// Rows of the padded plane.
    ph: usize,
    /// Row length of one stride phase in scratch (padded columns `j * stride + phase`, plus slack so
    /// whole `LANES` blocks can be read past the last output).
    row: usize,
}

impl Geometry {
    fn new(h: usize, w: usize, kernel: usize, stride: usize) -> Self {
        let (oh, pad_top, total_h) = same_padding(h, kernel, stride);
        let (ow, pad_left, total_w) = same_padding(w, kernel, stride);
        let pw = w + total_w;
        Self {
            h,
            w,
            kernel,
            stride,
            oh,
            ow,
            pad_top,
            pad_left,
            ph: h + total_h,
            row: pw.div_ceil(stride) + LANES,
        }
    }

    /// Scratch: the zero-padded input split into `stride` column phases, so that every tap reads
    /// consecutive values (phase `p`, row `r`, column `j` holds padded pixel `(r, j * stride + p)`).
    fn fill_scratch(&self, src: &[f32], scratch: &mut Vec<f32>) {
        let phase_len = self.ph * self.row;
        scratch.clear();
        scratch.resize(self.stride * phase_len, 0.0);
        for (y, line) in src.chunks_exact(self.w).take(self.h).enumerate() {
            let r = y + self.pad_top;
            if self.stride == 1 {
                let start = r * self.row + self.pad_left;
                scratch[start..start + self.w].copy_from_slice(line);
            } else {
                for (x, &v) in line.iter().enumerate() {
                    let col = x + self.pad_left;
                    let (phase, j) = (col % self.stride, col / self.stride);
                    scratch[phase * phase_len + r * self.row + j] = v;
                }
            }
        }
    }

    fn plane(
        &self,
        src: &[f32],
        dst: &mut [f32],
        taps: &[f32],
        bias: f32,
        relu6: bool,
        scratch: &mut Vec<f32>,
    ) {
        self.fill_scratch(src, scratch);
        self.run(scratch, dst, taps, Some(bias), relu6);
    }

    /// Convolves one prepared scratch plane into `dst`: starting from `bias`, or adding to what `dst`
    /// holds when `bias` is `None`.
    fn run(&self, scratch: &[f32], dst: &mut [f32], taps: &[f32], bias: Option<f32>, relu6: bool) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { self.rows_avx2(scratch, dst, taps, bias, relu6) };
            return;
        }
        self.rows::<false>(scratch, dst, taps, bias, relu6);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows_avx2(
        &self,
        scratch: &[f32],
        dst: &mut [f32],
        taps: &[f32],
        bias: Option<f32>,
        relu6: bool,
    ) {
        self.rows::<true>(scratch, dst, taps, bias, relu6);
    }

    /// All output rows of one plane, `LANES` outputs at a time with every tap accumulated in registers.
    #[inline(always)]
    fn rows<const FMA: bool>(
        &self,
        scratch: &[f32],
        dst: &mut [f32],
        taps: &[f32],
        bias: Option<f32>,
        relu6: bool,
    ) {
        let (k, s) = (self.kernel, self.stride);
        let phase_len = self.ph * self.row;
        // Shapes come from `fill_scratch` and the callers' output buffers; a mismatch would silently
        // skip rows or taps below.
        debug_assert_eq!(
            scratch.len(),
            s * phase_len,
            "scratch is not this geometry's"
        );
        debug_assert_eq!(dst.len(), self.oh * self.ow, "output plane size");
        debug_assert_eq!(taps.len(), k * k, "taps per plane");
        let blocks = self.ow.div_ceil(LANES);
        for (oy, out_row) in dst.chunks_exact_mut(self.ow).enumerate() {
            for b in 0..blocks {
                let ox = b * LANES;
                let n = LANES.min(self.ow - ox);
                let mut acc = [bias.unwrap_or(0.0); LANES];
                if bias.is_none() {
                    acc[..n].copy_from_slice(&out_row[ox..ox + n]);
                }
                for ky in 0..k {
                    let r = oy * s + ky;
                    for kx in 0..k {
                        let wv = taps[ky * k + kx];
                        let start = (kx % s) * phase_len + r * self.row + kx / s + ox;
                        // Always in bounds: `row` leaves `LANES` columns of slack past the last output.
                        let Some(v) = scratch.get(start..).and_then(|t| t.first_chunk::<LANES>())
                        else {
                            debug_assert!(start + LANES <= scratch.len(), "read past scratch");
                            continue;
                        };
                        for i in 0..LANES {
                            acc[i] = if FMA {
                                v[i].mul_add(wv, acc[i])
                            } else {
                                acc[i] + v[i] * wv
                            };
                        }
                    }
                }
                if relu6 {
                    for a in &mut acc {
                        *a = a.clamp(0.0, 6.0);
                    }
                }
                out_row[ox..ox + n].copy_from_slice(&acc[..n]);
            }
        }
    }
}

/// Dense (ungrouped) convolution of an `N x C_in x H x W` CPU tensor with TF 'SAME' padding, for layers
/// with few input channels such as the stem.
///
/// `weight` holds `C_out x C_in x kernel x kernel` taps (batch norm folded in), `bias` one value per
/// output channel. The padded input is prepared once per image; output channels are spread over
/// rayon's threads.
pub fn dense_conv(
    x: &Tensor,
    weight: &[f32],
    bias: &[f32],
    kernel: usize,
    stride: usize,
    relu6: bool,
) -> Result<Tensor> {
    let (n, cin, h, w) = x.dims4()?;
    let cout = bias.len();
    let taps = kernel * kernel;
    if weight.len() != cout * cin * taps || stride == 0 || kernel == 0 {
        return Err(kernel_err(
            "convolution weight shape does not match the input",
        ));
    }
    let geom = Geometry::new(h, w, kernel, stride);
    let plane_out = geom.oh * geom.ow;
    let mut out = vec![0f32; n * cout * plane_out];
    with_cpu_slice(x, |src| {
        for (dst, img) in out
            .chunks_mut(cout * plane_out)
            .zip(src.chunks(cin * h * w))
        {
            let scratches: Vec<Vec<f32>> = img
                .par_chunks(h * w)
                .map(|plane| {
                    let mut scratch = Vec::new();
                    geom.fill_scratch(plane, &mut scratch);
                    scratch
                })
                .collect();
            dst.par_chunks_mut(plane_out)
                .enumerate()
                .for_each(|(o, dst)| {
                    for (ci, scratch) in scratches.iter().enumerate() {
                        let t = &weight[(o * cin + ci) * taps..(o * cin + ci + 1) * taps];
                        let b = (ci == 0).then_some(bias[o]);
                        geom.run(scratch, dst, t, b, relu6 && ci + 1 == cin);
                    }
                });
        }
        Ok(())
    })?;
    Ok(Tensor::from_vec(
        out,
        (n, cout, geom.oh, geom.ow),
        x.device(),
    )?)
}

/// 1x1 convolution of an `N x C_in x H x W` CPU tensor as `weight (C_out x C_in) . x_n (C_in x H*W)` per
/// image, with `bias` (one per output channel) and optional ReLU6 fused in.
pub fn pointwise_conv(x: &Tensor, weight: &[f32], bias: &[f32], relu6: bool) -> Result<Tensor> {
    let (n, cin, h, w) = x.dims4()?;
    let cout = bias.len();
    if weight.len() != cout * cin {
        return Err(kernel_err(
            "pointwise weight shape does not match the input",
        ));
    }
    let hw = h * w;
    let mut out = vec![0f32; n * cout * hw];
    let threads = rayon::current_num_threads();
    with_cpu_slice(x, |src| {
        let one = |dst: &mut [f32], img: &[f32], par: gemm::Parallelism| {
            for (row, &b) in dst.chunks_exact_mut(hw).zip(bias) {
                row.fill(b);
            }
            // SAFETY: dst is cout x hw, weight cout x cin, img cin x hw, all row-major and in bounds.
            unsafe {
                gemm::gemm(
                    cout,
                    hw,
                    cin,
                    dst.as_mut_ptr(),
                    1,
                    hw as isize,
                    true,
                    weight.as_ptr(),
                    1,
                    cin as isize,
                    img.as_ptr(),
                    1,
                    hw as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    par,
                );
            }
            if relu6 {
                for v in dst.iter_mut() {
                    *v = v.clamp(0.0, 6.0);
                }
            }
        };
        if n >= threads {
            out.par_chunks_mut(cout * hw)
                .zip(src.par_chunks(cin * hw))
                .for_each(|(dst, img)| one(dst, img, gemm::Parallelism::None));
        } else {
            let par = if threads > 1 {
                gemm::Parallelism::Rayon(threads)
            } else {
                gemm::Parallelism::None
            };
            for (dst, img) in out.chunks_mut(cout * hw).zip(src.chunks(cin * hw)) {
                one(dst, img, par);
            }
        }
        Ok(())
    })?;
    Ok(Tensor::from_vec(out, (n, cout, h, w), x.device())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_core::{DType, IndexOp};

    /// Reference: candle's convolution (`groups` groups, taps of side `w.dim(3)`) over an explicitly
    /// 'SAME'-padded input, plus bias and optional ReLU6.
    fn reference(
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        s: usize,
        groups: usize,
        relu6: bool,
    ) -> Tensor {
        let cout = w.dim(0).unwrap();
        let y = pad_same(x, w.dim(3).unwrap(), s)
            .unwrap()
            .conv2d(w, 0, s, 1, groups)
            .unwrap()
            .broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap())
            .unwrap();
        if relu6 {
            y.clamp(0f32, 6f32).unwrap()
        } else {
            y
        }
    }

    /// A tensor's values, flat and row-major, as the kernels take weights and biases.
    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn depthwise_matches_candle_grouped_conv() {
        let dev = Device::Cpu;
        for k in [3, 5] {
            for s in [1, 2] {
                for (h, w) in [(7, 7), (8, 8), (14, 13), (17, 22), (1, 1), (2, 3)] {
                    for relu6 in [false, true] {
                        let (n, c) = (2, 5);
                        let x = Tensor::randn(0f32, 2.0, (n, c, h, w), &dev).unwrap();
                        let wt = Tensor::randn(0f32, 1.0, (c, 1, k, k), &dev).unwrap();
                        let b = Tensor::randn(0f32, 1.0, c, &dev).unwrap();
                        let got = depthwise_conv(&x, &flat(&wt), &flat(&b), k, s, relu6).unwrap();
                        let want = reference(&x, &wt, &b, s, c, relu6);
                        let d = max_diff(&got, &want);
                        assert!(d < 1e-4, "k={k} s={s} {h}x{w} relu6={relu6}: diff {d}");
                    }
                }
            }
        }
    }

    #[test]
    fn depthwise_reads_a_non_contiguous_input() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 9, 9, 4), &dev)
            .unwrap()
            .permute((0, 3, 1, 2))
            .unwrap();
        let wt = Tensor::randn(0f32, 1.0, (4, 1, 3, 3), &dev).unwrap();
        let b = Tensor::zeros(4, DType::F32, &dev).unwrap();
        let got = depthwise_conv(&x, &flat(&wt), &flat(&b), 3, 1, false).unwrap();
        let d = max_diff(&got, &reference(&x, &wt, &b, 1, 4, false));
        assert!(d < 1e-4, "diff {d}");
    }

    #[test]
    fn dense_matches_candle_conv() {
        let dev = Device::Cpu;
        for (k, s, h, w) in [
            (3, 2, 224, 224),
            (3, 2, 15, 10),
            (5, 1, 9, 12),
            (3, 1, 1, 2),
        ] {
            for relu6 in [false, true] {
                let (n, cin, cout) = (2, 3, 6);
                let x = Tensor::randn(0f32, 2.0, (n, cin, h, w), &dev).unwrap();
                let wt = Tensor::randn(0f32, 1.0, (cout, cin, k, k), &dev).unwrap();
                let b = Tensor::randn(0f32, 1.0, cout, &dev).unwrap();
                let got = dense_conv(&x, &flat(&wt), &flat(&b), k, s, relu6).unwrap();
                let want = reference(&x, &wt, &b, s, 1, relu6);
                let d = max_diff(&got, &want);
                assert!(d < 1e-4, "k={k} s={s} {h}x{w} relu6={relu6}: diff {d}");
            }
        }
    }

    #[test]
    fn pointwise_matches_candle_conv() {
        let dev = Device::Cpu;
        for (n, cin, cout, h, w) in [(1, 16, 24, 5, 7), (3, 40, 8, 4, 4), (2, 7, 9, 1, 1)] {
            for relu6 in [false, true] {
                let x = Tensor::randn(0f32, 2.0, (n, cin, h, w), &dev).unwrap();
                let wt = Tensor::randn(0f32, 1.0, (cout, cin, 1, 1), &dev).unwrap();
                let b = Tensor::randn(0f32, 1.0, cout, &dev).unwrap();
                let got = pointwise_conv(&x, &flat(&wt), &flat(&b), relu6).unwrap();
                let want = reference(&x, &wt, &b, 1, 1, relu6);
                let d = max_diff(&got, &want);
                assert!(d < 1e-4, "{n}x{cin}->{cout} {h}x{w}: diff {d}");
                // The first image alone gives the same rows (the batch is not mixed).
                let single =
                    pointwise_conv(&x.i(0..1).unwrap(), &flat(&wt), &flat(&b), relu6).unwrap();
                assert!(max_diff(&single, &got.i(0..1).unwrap()) < 1e-5);
            }
        }
    }
}
