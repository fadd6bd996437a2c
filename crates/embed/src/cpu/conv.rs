//! CPU convolution kernels for EfficientNet-Lite0 on NCHW `f32` tensors: depthwise ([`depthwise_conv`])
//! and small dense (stem, [`dense_conv`]) convolutions with TF 'SAME' padding, and the 1x1 (pointwise,
//! [`Pointwise`]) convolution as a matrix product, each with the folded batch-norm bias and optional
//! ReLU6 fused in; plus the TF 'SAME' padding rule ([`same_padding`], [`pad_same`]) that the model's
//! candle path shares.
//!
//! candle runs a grouped convolution as one convolution per group, which makes depthwise layers the
//! bulk of Lite0's time; these kernels replace them on the CPU. Other devices keep candle's ops.
//!
//! Each kernel runs at the [`Kernel`] level it is given (AVX-512: 16 outputs per register, AVX2: 8, the
//! pointwise product on the linear layers' tile kernels), or as portable code without one; the work is
//! spread over the kernel threads (the `team` module: the caller and spinning workers).

use super::gemm::{
    pack_block, pack_panels_strided, row_blocks, OutputActivation, OutputStart, Product,
};
pub use super::on_cpu;
use super::{kernel_err, team, vmath, with_cpu_slice, Kernel, Unfilled};
use crate::error::Result;
use candle_core::Tensor;
use rayon::prelude::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Most output positions computed together in registers (one AVX-512 register of `f32`); the scratch
/// rows leave this much slack.
const MAX_LANES: usize = 16;

thread_local! {
    /// This thread's scratch plane ([`Geometry::fill_scratch`]) or packed pointwise panels.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

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
/// `relu6` clamps the output to `[0, 6]`. Planes (image, channel) are spread over the kernel threads.
pub fn depthwise_conv(
    level: Option<Kernel>,
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
    let mut out = Unfilled::new(n * c * plane_out);
    let dst = out.shared();
    with_cpu_slice(x, |src| {
        team::for_each(n * c, |i| {
            let ch = i % c;
            let taps = &weight[ch * kernel * kernel..(ch + 1) * kernel * kernel];
            // SAFETY: task i alone writes plane i of `out`, which outlives the loop.
            let dst = unsafe { dst.slots(i * plane_out, plane_out) };
            let plane = &src[i * h * w..(i + 1) * h * w];
            SCRATCH.with_borrow_mut(|scratch| {
                geom.plane(level, plane, dst, taps, bias[ch], relu6, scratch);
            });
        });
        Ok(())
    })?;
    // SAFETY: tasks 0..n * c wrote the n * c planes, all of `out`.
    let out = unsafe { out.filled() };
    Ok(Tensor::from_vec(out, (n, c, geom.oh, geom.ow), x.device())?)
}

/// Shapes of one depthwise plane: input, padding, output and the stride-phase scratch layout.
struct Geometry {
    h: usize,
    w: usize,
    stride: usize,
    oh: usize,
    ow: usize,
    pad_top: usize,
    pad_left: usize,
    /// Rows of the padded plane.
    ph: usize,
    /// Row length of one stride phase in scratch (padded columns `j * stride + phase`, plus slack so
    /// whole [`MAX_LANES`] blocks can be read past the last output).
    row: usize,
    /// Where tap `(ky, kx)` (at `ky * kernel + kx`) reads in scratch for output `(0, 0)`: its stride
    /// phase, row and column; output `(oy, ox)` reads `oy * stride * row + ox` further.
    taps: Vec<usize>,
}

impl Geometry {
    fn new(h: usize, w: usize, kernel: usize, stride: usize) -> Self {
        let (oh, pad_top, total_h) = same_padding(h, kernel, stride);
        let (ow, pad_left, total_w) = same_padding(w, kernel, stride);
        let pw = w + total_w;
        let (ph, row) = (h + total_h, pw.div_ceil(stride) + MAX_LANES);
        let phase_len = ph * row;
        let taps = (0..kernel * kernel)
            .map(|t| {
                let (ky, kx) = (t / kernel, t % kernel);
                (kx % stride) * phase_len + ky * row + kx / stride
            })
            .collect();
        Self {
            h,
            w,
            stride,
            oh,
            ow,
            pad_top,
            pad_left,
            ph,
            row,
            taps,
        }
    }

    /// Scratch: the zero-padded input split into `stride` column phases, so that every tap reads
    /// consecutive values (phase `p`, row `r`, column `j` holds padded pixel `(r, j * stride + p)`).
    fn fill_scratch(&self, src: &[f32], scratch: &mut Vec<f32>) {
        let (s, w, row) = (self.stride, self.w, self.row);
        let phase_len = self.ph * row;
        // No clearing: every value is written below, padding included.
        scratch.resize(s * phase_len, 0.0);
        for (phase, plane) in scratch.chunks_exact_mut(phase_len).enumerate() {
            // Columns j0..j0 + count of this phase hold input columns first, first + s, ...
            let j0 = self.pad_left.saturating_sub(phase).div_ceil(s);
            let first = j0 * s + phase - self.pad_left;
            let count = w.saturating_sub(first).div_ceil(s);
            for (r, out) in plane.chunks_exact_mut(row).enumerate() {
                let y = r.wrapping_sub(self.pad_top);
                if y >= self.h {
                    out.fill(0.0);
                    continue;
                }
                let line = &src[y * w..(y + 1) * w];
                out[..j0].fill(0.0);
                let cols = &mut out[j0..j0 + count];
                if s == 1 {
                    cols.copy_from_slice(&line[first..first + count]);
                } else {
                    for (o, v) in cols.iter_mut().zip(line[first..].iter().step_by(s)) {
                        *o = *v;
                    }
                }
                out[j0 + count..].fill(0.0);
            }
        }
    }

    /// Convolves one input plane into the output plane `dst` (not yet written), starting from `bias`.
    #[allow(clippy::too_many_arguments)]
    fn plane(
        &self,
        level: Option<Kernel>,
        src: &[f32],
        dst: &mut [MaybeUninit<f32>],
        taps: &[f32],
        bias: f32,
        relu6: bool,
        scratch: &mut Vec<f32>,
    ) {
        self.fill_scratch(src, scratch);
        self.run(level, scratch, PlaneOut::Start(dst, bias), taps, relu6);
    }

    /// Convolves one prepared scratch plane into `dst`; returns the output plane's values.
    fn run<'a>(
        &self,
        level: Option<Kernel>,
        scratch: &[f32],
        dst: PlaneOut<'a>,
        taps: &[f32],
        relu6: bool,
    ) -> &'a mut [f32] {
        let len = self.oh * self.ow;
        let (values, bias) = match dst {
            PlaneOut::Start(slots, bias) => {
                assert_eq!(slots.len(), len, "output plane size");
                (slots.as_mut_ptr().cast::<f32>(), Some(bias))
            }
            PlaneOut::Add(values) => {
                assert_eq!(values.len(), len, "output plane size");
                (values.as_mut_ptr(), None)
            }
        };
        let out = Plane { values, bias };
        match level {
            Some(level) => rows_simd(level, self, scratch, out, taps, relu6),
            None => rows::<false, 8>(self, scratch, out, taps, relu6),
        }
        // SAFETY: `values` is the `len` values of `dst`, each written by `rows` (every output of every
        // row) or already written before (`Add`).
        unsafe { std::slice::from_raw_parts_mut(values, len) }
    }
}

/// The output plane that [`Geometry::run`] fills.
enum PlaneOut<'a> {
    /// Not yet written: the sums start from the bias, and are its first values.
    Start(&'a mut [MaybeUninit<f32>], f32),
    /// Values already written (an earlier input channel's sums), added to.
    Add(&'a mut [f32]),
}

/// A [`PlaneOut`] as [`rows`] writes it: where its `oh x ow` values go, and the bias that starts each
/// sum (`None`: each starts from the value there).
///
/// Made only by [`Geometry::run`], from a [`PlaneOut`] whose length it checked against the geometry:
/// `values` points to `oh x ow` writable values of this task alone, all initialised when `bias` is
/// `None`. [`rows`] and [`block`] rely on that.
#[derive(Clone, Copy)]
struct Plane {
    values: *mut f32,
    bias: Option<f32>,
}

super::vmath::per_level!(
    /// [`rows`] at 16 lanes with AVX-512, 8 with AVX2.
    rows_simd(
        geom: &Geometry,
        scratch: &[f32],
        out: Plane,
        taps: &[f32],
        relu6: bool
    ) => avx512: rows::<true, 16>, avx2: rows::<true, 8>
);

/// Output blocks of `LANES` that [`rows`] accumulates together: independent sums keep the FMA units busy
/// instead of waiting on one sum's latency at every tap.
const GROUP: usize = 4;

/// All output rows of one plane: [`GROUP`] registers of `LANES` (at most [`MAX_LANES`]) outputs at a
/// time while whole groups fit, then one register at a time.
#[inline(always)]
fn rows<const FMA: bool, const LANES: usize>(
    geom: &Geometry,
    scratch: &[f32],
    out: Plane,
    taps: &[f32],
    relu6: bool,
) {
    // Shapes come from `fill_scratch` and the geometry; a mismatch would silently skip rows or taps
    // below.
    debug_assert_eq!(
        scratch.len(),
        geom.stride * geom.ph * geom.row,
        "scratch is not this geometry's"
    );
    debug_assert_eq!(taps.len(), geom.taps.len(), "taps per plane");
    let ow = geom.ow;
    let whole = ow / (GROUP * LANES) * (GROUP * LANES);
    for oy in 0..geom.oh {
        let base = oy * geom.stride * geom.row;
        for b in 0..whole / (GROUP * LANES) {
            let at = b * GROUP * LANES;
            // SAFETY: outputs oy * ow + at .. + GROUP * LANES lie inside the plane's oh x ow.
            unsafe {
                block::<FMA, LANES, GROUP>(
                    geom,
                    scratch,
                    base + at,
                    taps,
                    relu6,
                    out,
                    oy * ow + at,
                    GROUP * LANES,
                )
            };
        }
        for at in (whole..ow).step_by(LANES) {
            // SAFETY: as above, the row's last `min(LANES, ow - at)` outputs.
            unsafe {
                block::<FMA, LANES, 1>(
                    geom,
                    scratch,
                    base + at,
                    taps,
                    relu6,
                    out,
                    oy * ow + at,
                    LANES.min(ow - at),
                )
            };
        }
    }
}

/// Outputs `first .. first + n` (`n` at most `G * LANES`, consecutive in a row) of `out` in `G`
/// registers of `LANES` sums, every tap accumulated, starting from `out`'s bias or, without one, from
/// the values there; the block's first output reads tap `t` at `start + geom.taps[t]`.
///
/// # Safety
/// The `n` outputs lie inside `out`'s plane, and hold values when `out` has no bias.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn block<const FMA: bool, const LANES: usize, const G: usize>(
    geom: &Geometry,
    scratch: &[f32],
    start: usize,
    taps: &[f32],
    relu6: bool,
    out: Plane,
    first: usize,
    n: usize,
) {
    let mut acc = [[out.bias.unwrap_or(0.0); LANES]; G];
    // SAFETY: the caller's outputs, inside the plane.
    let dst = unsafe { out.values.add(first) };
    if out.bias.is_none() {
        // SAFETY: without a bias the n outputs hold values (the caller's promise).
        unsafe { std::ptr::copy_nonoverlapping(dst, acc.as_flattened_mut().as_mut_ptr(), n) };
    }
    for (&wv, &at) in taps.iter().zip(&geom.taps) {
        // Always in bounds: `row` leaves `MAX_LANES` columns of slack past the last output, and a
        // group of several registers ends at an output.
        let Some(v) = scratch.get(start + at..start + at + G * LANES) else {
            debug_assert!(false, "read past scratch");
            continue;
        };
        for (g, a) in acc.iter_mut().enumerate() {
            for i in 0..LANES {
                a[i] = fma::<FMA>(v[g * LANES + i], wv, a[i]);
            }
        }
    }
    // ReLU6 on every lane (a fixed count the compiler unrolls), then the block's outputs stored.
    let sums = acc.as_flattened_mut();
    if relu6 {
        vmath::relu6_body(sums);
    }
    // SAFETY: the n outputs are the caller's, inside the plane; `sums` holds G * LANES >= n values.
    unsafe { std::ptr::copy_nonoverlapping(sums.as_ptr(), dst, n) };
}

/// `v * w + acc`, fused when `FMA` (the level has the instruction).
#[inline(always)]
fn fma<const FMA: bool>(v: f32, w: f32, acc: f32) -> f32 {
    if FMA {
        v.mul_add(w, acc)
    } else {
        acc + v * w
    }
}

/// Dense (ungrouped) convolution of an `N x C_in x H x W` CPU tensor with TF 'SAME' padding, for layers
/// with few input channels such as the stem.
///
/// `weight` holds `C_out x C_in x kernel x kernel` taps (batch norm folded in), `bias` one value per
/// output channel. The padded input is prepared once per image; output channels are spread over the
/// kernel threads.
pub fn dense_conv(
    level: Option<Kernel>,
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
    let mut out = Unfilled::new(n * cout * plane_out);
    let all = out.shared();
    with_cpu_slice(x, |src| {
        for (i, img) in src.chunks(cin * h * w).enumerate() {
            let scratches: Vec<Vec<f32>> = img
                .chunks(h * w)
                .map(|plane| {
                    let mut scratch = Vec::new();
                    geom.fill_scratch(plane, &mut scratch);
                    scratch
                })
                .collect();
            team::for_each(cout, |o| {
                // SAFETY: task o alone writes output plane o of image i, inside `out`.
                let slots = unsafe { all.slots((i * cout + o) * plane_out, plane_out) };
                let taps_of = |ci: usize| &weight[(o * cin + ci) * taps..(o * cin + ci + 1) * taps];
                let Some((first, rest)) = scratches.split_first() else {
                    // No input channel: the bias alone.
                    let values = super::write_each(slots, bias[o]);
                    if relu6 {
                        vmath::relu6_body(values);
                    }
                    return;
                };
                // The first input channel's sums start from the bias; the others' are added.
                let start = PlaneOut::Start(slots, bias[o]);
                let values = geom.run(level, first, start, taps_of(0), relu6 && cin == 1);
                for (ci, scratch) in rest.iter().enumerate().map(|(c, s)| (c + 1, s)) {
                    let add = PlaneOut::Add(&mut *values);
                    geom.run(level, scratch, add, taps_of(ci), relu6 && ci + 1 == cin);
                }
            });
        }
        Ok(())
    })?;
    // SAFETY: the loops wrote the cout planes of each of the n images, all of `out`.
    let out = unsafe { out.filled() };
    Ok(Tensor::from_vec(
        out,
        (n, cout, geom.oh, geom.ow),
        x.device(),
    )?)
}

/// A 1x1 convolution (`C_out x C_in` weights, batch norm folded in, one bias per output channel) on
/// `N x C_in x H x W` CPU tensors: `weight . x_n (C_in x H*W)` per image. With a [`Kernel`] level the
/// weights are packed once, here, as the row blocks of the linear layers' tile kernels, and each call
/// packs its input's columns as panels; bias, a residual and ReLU6 are applied in the output.
pub struct Pointwise {
    level: Option<Kernel>,
    cin: usize,
    /// `C_out x C_in`, row-major (the portable path's).
    weight: Vec<f32>,
    /// The weights as row blocks ([`pack_block`]) when there is a level.
    packed: Vec<f32>,
    blocks: Vec<(usize, usize)>,
    bias: Vec<f32>,
}

impl Pointwise {
    /// `weight`: `bias.len() x cin` values, row-major.
    pub fn new(level: Option<Kernel>, weight: Vec<f32>, bias: Vec<f32>) -> Result<Self> {
        let cout = bias.len();
        if cout == 0 || !weight.len().is_multiple_of(cout) {
            return Err(kernel_err(
                "pointwise weight is not one row per output channel",
            ));
        }
        let cin = weight.len() / cout;
        let (mut packed, mut blocks) = (Vec::new(), Vec::new());
        if let Some(kernel) = level {
            blocks = row_blocks(cout, kernel.mr());
            packed = vec![0f32; weight.len()];
            for &block in &blocks {
                let dst = &mut packed[block.0 * cin..];
                pack_block(cin, block, |i, p| weight[i * cin + p], dst);
            }
        }
        Ok(Self {
            level,
            cin,
            weight,
            packed,
            blocks,
            bias,
        })
    }

    /// `x` through the convolution, plus `residual` (an `N x C_out x H x W` tensor) when given, then
    /// ReLU6 when `relu6`.
    pub fn forward(&self, x: &Tensor, residual: Option<&Tensor>, relu6: bool) -> Result<Tensor> {
        let (n, cin, h, w) = x.dims4()?;
        let (cout, hw) = (self.bias.len(), h * w);
        if cin != self.cin {
            return Err(kernel_err(
                "pointwise weight shape does not match the input",
            ));
        }
        if let Some(r) = residual {
            if r.dims() != [n, cout, h, w] {
                return Err(kernel_err("residual shape does not match the output"));
            }
        }
        let out = with_cpu_slice(x, |src| match residual {
            Some(r) => with_cpu_slice(r, |r| Ok(self.run(src, (n, hw), Some(r), relu6))),
            None => Ok(self.run(src, (n, hw), None, relu6)),
        })?;
        Ok(Tensor::from_vec(out, (n, cout, h, w), x.device())?)
    }

    fn run(
        &self,
        src: &[f32],
        (n, hw): (usize, usize),
        residual: Option<&[f32]>,
        relu6: bool,
    ) -> Vec<f32> {
        let (cin, cout) = (self.cin, self.bias.len());
        let Some(kernel) = self.level else {
            let mut out = pointwise_portable(src, (n, cin, hw), &self.weight, &self.bias);
            if let Some(r) = residual {
                out.iter_mut().zip(r).for_each(|(o, r)| *o += r);
            }
            if relu6 {
                vmath::relu6_body(&mut out);
            }
            return out;
        };
        let nr = kernel.nr();
        let panels = hw.div_ceil(nr);
        // Several column ranges per thread, so that a thread that falls behind leaves work to the others.
        let parts = panels.min(super::linear::COLUMN_RANGES_PER_THREAD * team::threads());
        let mut out = Unfilled::new(n * cout * hw);
        let dst = out.shared();
        let activation = if relu6 {
            OutputActivation::Relu6
        } else {
            OutputActivation::None
        };
        team::for_each(n * parts, |t| {
            let (img, part) = (t / parts, t % parts);
            let (c0, c1) = (
                part * panels / parts * nr,
                ((part + 1) * panels / parts * nr).min(hw),
            );
            let image = &src[img * cin * hw..(img + 1) * cin * hw];
            let first = img * cout * hw;
            SCRATCH.with_borrow_mut(|panels| {
                pack_panels_strided(kernel, (c1 - c0, cin), &image[c0..], hw, panels);
                let product = Product {
                    kernel,
                    a: &self.packed,
                    blocks: &self.blocks,
                    panels,
                    n: c1 - c0,
                    k: cin,
                };
                let add_residual = |row: usize, col: usize, dst: &mut [f32]| {
                    if let Some(r) = residual {
                        let at = first + row * hw + c0 + col;
                        dst.iter_mut().zip(&r[at..]).for_each(|(d, r)| *d += r);
                    }
                };
                let whole = (0, (c1 - c0).div_ceil(nr));
                let start = OutputStart::PerRow(&self.bias);
                // SAFETY: task t alone writes columns c0..c1 of image img's C_out rows (stride hw),
                // inside `out`, which outlives the loop; the bias has one value per row (C_out).
                unsafe {
                    product.columns(
                        dst.add(first + c0),
                        hw,
                        whole,
                        start,
                        add_residual,
                        activation,
                    )
                };
            });
        });
        // SAFETY: the tasks wrote columns 0..hw (parts of panels) of the C_out rows of every image.
        unsafe { out.filled() }
    }
}

/// [`Pointwise::forward`] without a kernel level: `gemm`'s product per image on rayon's threads.
fn pointwise_portable(
    x: &[f32],
    (n, cin, hw): (usize, usize, usize),
    weight: &[f32],
    bias: &[f32],
) -> Vec<f32> {
    let cout = bias.len();
    let mut out = vec![0f32; n * cout * hw];
    let src = x;
    let threads = rayon::current_num_threads();
    {
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
    }
    out
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
        crate::cpu::testing::max_abs_diff_tensors(a, b).unwrap()
    }

    /// Every kernel level this CPU runs (recorded; the others listed as skips), and the portable code.
    fn levels() -> Vec<Option<Kernel>> {
        crate::cpu::testing::levels("embed convolutions")
            .into_iter()
            .map(Some)
            .chain([None])
            .collect()
    }

    #[test]
    fn depthwise_matches_candle_grouped_conv() {
        let dev = Device::Cpu;
        for (level, k) in levels().into_iter().flat_map(|l| [(l, 3), (l, 5)]) {
            for s in [1, 2] {
                // Wide rows run the grouped blocks (4 registers at a time) and then single ones.
                for (h, w) in [
                    (7, 7),
                    (8, 8),
                    (14, 13),
                    (17, 22),
                    (1, 1),
                    (2, 3),
                    (3, 70),
                    (2, 133),
                ] {
                    for relu6 in [false, true] {
                        let (n, c) = (2, 5);
                        let x = Tensor::randn(0f32, 2.0, (n, c, h, w), &dev).unwrap();
                        let wt = Tensor::randn(0f32, 1.0, (c, 1, k, k), &dev).unwrap();
                        let b = Tensor::randn(0f32, 1.0, c, &dev).unwrap();
                        let (taps, bs) = (flat(&wt), flat(&b));
                        let got = depthwise_conv(level, &x, &taps, &bs, k, s, relu6).unwrap();
                        let want = reference(&x, &wt, &b, s, c, relu6);
                        let d = max_diff(&got, &want);
                        assert!(
                            d < 1e-4,
                            "{level:?} k={k} s={s} {h}x{w} relu6={relu6}: diff {d}"
                        );
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
        let got = depthwise_conv(Kernel::detect(), &x, &flat(&wt), &flat(&b), 3, 1, false).unwrap();
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
            for (level, relu6) in levels().into_iter().flat_map(|l| [(l, false), (l, true)]) {
                let (n, cin, cout) = (2, 3, 6);
                let x = Tensor::randn(0f32, 2.0, (n, cin, h, w), &dev).unwrap();
                let wt = Tensor::randn(0f32, 1.0, (cout, cin, k, k), &dev).unwrap();
                let b = Tensor::randn(0f32, 1.0, cout, &dev).unwrap();
                let got = dense_conv(level, &x, &flat(&wt), &flat(&b), k, s, relu6).unwrap();
                let want = reference(&x, &wt, &b, s, 1, relu6);
                let d = max_diff(&got, &want);
                assert!(
                    d < 1e-4,
                    "{level:?} k={k} s={s} {h}x{w} relu6={relu6}: diff {d}"
                );
            }
        }
    }

    /// Every level, odd shapes (partial panels, several column ranges, 1x1 planes), with and without a
    /// residual and ReLU6.
    #[test]
    fn pointwise_matches_candle_conv() {
        let dev = Device::Cpu;
        let shapes = [
            (1, 16, 24, 5, 7),
            (3, 40, 8, 4, 4),
            (2, 7, 9, 1, 1),
            (1, 80, 200, 14, 14),
            (2, 24, 144, 28, 28),
        ];
        for (level, (n, cin, cout, h, w)) in levels()
            .into_iter()
            .flat_map(|l| shapes.map(|shape| (l, shape)))
        {
            for (relu6, add) in [(false, false), (true, false), (false, true), (true, true)] {
                let x = Tensor::randn(0f32, 2.0, (n, cin, h, w), &dev).unwrap();
                let wt = Tensor::randn(0f32, 1.0, (cout, cin, 1, 1), &dev).unwrap();
                let b = Tensor::randn(0f32, 1.0, cout, &dev).unwrap();
                let r = Tensor::randn(0f32, 1.0, (n, cout, h, w), &dev).unwrap();
                let conv = Pointwise::new(level, flat(&wt), flat(&b)).unwrap();
                let got = conv.forward(&x, add.then_some(&r), relu6).unwrap();
                let mut want = reference(&x, &wt, &b, 1, 1, false);
                if add {
                    want = (want + &r).unwrap();
                }
                if relu6 {
                    want = want.clamp(0f32, 6f32).unwrap();
                }
                let d = max_diff(&got, &want);
                let what =
                    format!("{level:?} {n}x{cin}->{cout} {h}x{w} relu6 {relu6} residual {add}");
                assert!(d < 1e-4 * cin as f32, "{what}: diff {d}");
                // The first image alone gives the same rows (the batch is not mixed).
                let first = x.i(0..1).unwrap();
                let single = conv.forward(&first, add.then(|| r.i(0..1).unwrap()).as_ref(), relu6);
                assert!(
                    max_diff(&single.unwrap(), &got.i(0..1).unwrap()) < 1e-4,
                    "{what}"
                );
            }
        }
    }
}
