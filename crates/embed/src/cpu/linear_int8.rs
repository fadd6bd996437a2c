//! `y = x W^T + b` with 8-bit integer products (`--precision int8`): the weights quantised once, at load
//! time, per output feature (symmetric, 7 bits: `-64..=64` steps of `max |w| / 64`), the activations per
//! row at every call (asymmetric, 7 bits: `0..=127` steps between the row's minimum and maximum, zero
//! included), the products summed exactly in `i32` ([`super::tiles_int8_avx2`], or
//! [`super::tiles_int8_vnni`] where the CPU has AVX-512 VNNI: [`Int8Tile`]) and scaled back to `f32`.
//!
//! Seven bits a side is what lets the AVX2 tile add two `vpmaddubsw` results in `i16` before widening:
//! 64 products for three multiplies, against 8 per FMA of the `f32` tile. On a Zen 2 core the tile runs
//! ~1.35x the `f32` tile's multiply-adds per second (the integer multiplies share one pipe there); Intel
//! cores multiply on two. The price is the rounding: see the README's int8 section for the embeddings'
//! measured distance from `f32`.

use super::linear::{input_rows, Epilogue};
use super::norm::{normalise_rows, NormParams};
use super::tiles_int8_avx2::{
    self as tiles, Finish, Output, PanelColumns, RowScale, DEPTH_STEP, NR,
};
use super::tiles_int8_vnni;
use super::{gemm::row_blocks, team, vmath, Kernel, Unfilled};
use std::mem::MaybeUninit;
use std::sync::Mutex;
use vsearch_core::simd::SimdLevel;

/// Largest quantised weight: with activations up to 127, four products stay inside `i16`.
const WEIGHT_STEPS: f32 = 64.0;
/// Largest quantised activation.
const ACTIVATION_STEPS: f32 = 127.0;
/// `1.5 * 2^23`: added to an `f32` in `[0, 2^22)`, rounds it to an integer (ties to even) held in the
/// low mantissa bits.
const ROUNDING_SHIFTER: f32 = 12_582_912.0;
/// Bytes of activations that one group of row blocks holds while the panels pass over it (in L2).
const GROUP_BYTES: usize = 192 * 1024;
/// Rows quantised by one task.
const ROWS_PER_TASK: usize = 16;

/// The tile that sums an int8 product: both read the same packed panels and give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Tile {
    /// AVX-512 VNNI: one `vpdpbusd` per 64 products, a zmm of sums per row.
    Avx512Vnni,
    /// AVX2: `vpmaddubsw` pairs added in `i16`, widened by `vpmaddwd`.
    Avx2,
}

impl Int8Tile {
    /// Every tile, best first.
    pub const ALL: [Int8Tile; 2] = [Int8Tile::Avx512Vnni, Int8Tile::Avx2];

    /// Its name in reports: `"avx512-vnni"` or `"avx2"`.
    pub fn name(self) -> &'static str {
        match self {
            Int8Tile::Avx512Vnni => "avx512-vnni",
            Int8Tile::Avx2 => "avx2",
        }
    }

    /// Most rows of one call of the tile (its accumulators fill the registers).
    pub fn rows(self) -> usize {
        match self {
            Int8Tile::Avx512Vnni => tiles_int8_vnni::MR,
            Int8Tile::Avx2 => tiles::MR,
        }
    }

    /// Most weight panels (16 columns each) of one call of the tile.
    pub fn panels(self) -> usize {
        match self {
            Int8Tile::Avx512Vnni => tiles_int8_vnni::PANELS,
            Int8Tile::Avx2 => 1,
        }
    }

    /// Whether this CPU runs it (checked at run time).
    pub fn is_supported(self) -> bool {
        match self {
            Int8Tile::Avx512Vnni => {
                SimdLevel::Avx512.is_supported()
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            Int8Tile::Avx2 => SimdLevel::Avx2.is_supported(),
        }
    }

    /// The tile for layers whose other kernels run at `kernel`: the VNNI tile at the AVX-512 level on a
    /// CPU with VNNI, the AVX2 tile otherwise (so `VSEARCH_KERNELS=avx2` compares the two); `None`
    /// without AVX2.
    pub fn detect(kernel: Kernel) -> Option<Int8Tile> {
        match kernel {
            Kernel::Avx512 => Int8Tile::ALL.into_iter().find(|t| t.is_supported()),
            Kernel::Avx2 => Some(Int8Tile::Avx2).filter(|t| t.is_supported()),
        }
    }
}

/// A linear layer's weights quantised to 7-bit integers and packed for the int8 tile.
pub struct QuantizedLinear {
    /// The level of the activations' quantisation (the tile ends the layer itself).
    kernel: Kernel,
    /// The tile that sums the products.
    tile: Int8Tile,
    /// Output features.
    n: usize,
    /// Input features.
    k: usize,
    /// `k` rounded up to the tile's depth step (padding weights are zero).
    depth: usize,
    /// Panel `j`: columns `j * NR ..`, `depth * NR` bytes in the order [`tiles::tile`] reads them.
    panels: Vec<i8>,
    /// Per column (padded to whole panels): the weights' step, their sum, the bias.
    scales: Vec<f32>,
    sums: Vec<i32>,
    bias: Vec<f32>,
}

impl std::fmt::Debug for QuantizedLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantizedLinear")
            .field("in_features", &self.k)
            .field("out_features", &self.n)
            .finish()
    }
}

impl QuantizedLinear {
    /// Quantises and packs `weight` (`n x k`, row-major, as PyTorch stores it) and `bias` (`n`
    /// values) for the best tile at `kernel`'s level ([`Int8Tile::detect`]); `None` when this CPU lacks
    /// AVX2 (the int8 tiles' instructions).
    ///
    /// # Panics
    /// If `weight` does not hold `n * k` values or `bias` not `n`: the caller read both from one layer.
    pub fn new(
        kernel: Kernel,
        weight: &[f32],
        bias: Option<&[f32]>,
        n: usize,
        k: usize,
    ) -> Option<Self> {
        Self::with_tile(kernel, Int8Tile::detect(kernel)?, weight, bias, n, k)
    }

    /// [`QuantizedLinear::new`] for the tile `tile`; `None` when this CPU does not run it.
    ///
    /// # Panics
    /// As [`QuantizedLinear::new`].
    pub fn with_tile(
        kernel: Kernel,
        tile: Int8Tile,
        weight: &[f32],
        bias: Option<&[f32]>,
        n: usize,
        k: usize,
    ) -> Option<Self> {
        if !tile.is_supported() || !kernel.is_supported() {
            return None;
        }
        assert_eq!(weight.len(), n * k, "weight is not {n} x {k}");
        let depth = k.div_ceil(DEPTH_STEP) * DEPTH_STEP;
        let count = n.div_ceil(NR);
        let mut panels = vec![0i8; count * depth * NR];
        let mut scales = vec![0f32; count * NR];
        let mut sums = vec![0i32; count * NR];
        let mut padded_bias = vec![0f32; count * NR];
        if let Some(b) = bias {
            assert_eq!(b.len(), n, "bias is not {n} values");
            padded_bias[..n].copy_from_slice(b);
        }
        for (j, row) in weight.chunks_exact(k.max(1)).enumerate().take(n) {
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = if max > 0.0 { max / WEIGHT_STEPS } else { 1.0 };
            scales[j] = scale;
            let panel = &mut panels[(j / NR) * depth * NR..][..depth * NR];
            let c = j % NR;
            for (p, &w) in row.iter().enumerate() {
                let q = (w / scale)
                    .round_ties_even()
                    .clamp(-WEIGHT_STEPS, WEIGHT_STEPS) as i8;
                sums[j] += i32::from(q);
                // Step p / 8; in it, the 32-byte vector of (depths 4-7?, columns 8-15?), then the
                // column's 4 bytes.
                let (step, d) = (p / DEPTH_STEP, p % DEPTH_STEP);
                let vector = (d / 4) * 2 + c / 8;
                panel[step * DEPTH_STEP * NR + vector * 32 + (c % 8) * 4 + d % 4] = q;
            }
        }
        Some(Self {
            kernel,
            tile,
            n,
            k,
            depth,
            panels,
            scales,
            sums,
            bias: padded_bias,
        })
    }

    /// The SIMD level of the activations' quantisation.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The tile that sums the products.
    pub fn tile(&self) -> Int8Tile {
        self.tile
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
        self.forward_from(x, None, epilogue)
    }

    /// `layer_norm(x)` through the layer and `epilogue`, the norm applied to each row as it is
    /// quantised (its `f32` result is never stored): the same values as [`super::layer_norm`] then
    /// [`Self::forward`].
    ///
    /// # Panics
    /// As [`Self::forward`], and if the norm's parameters are not `k` values each.
    pub fn forward_normed(
        &self,
        x: &[f32],
        norm: NormParams<'_>,
        epilogue: Epilogue<'_>,
    ) -> Vec<f32> {
        assert!(
            norm.gamma.len() == self.k && norm.beta.len() == self.k,
            "the norm is not over the layer's {} inputs",
            self.k
        );
        self.forward_from(x, Some(norm), epilogue)
    }

    fn forward_from(
        &self,
        x: &[f32],
        norm: Option<NormParams<'_>>,
        epilogue: Epilogue<'_>,
    ) -> Vec<f32> {
        let (n, k) = (self.n, self.k);
        let m = input_rows(x, (n, k), epilogue);
        let (activations, rows) = quantize_rows(self.kernel, x, norm, k, self.depth);
        let mr = self.tile.rows();
        let blocks = row_blocks(m, mr);
        let groups: Vec<_> = blocks
            .chunks((GROUP_BYTES / (self.depth * mr)).max(1))
            .collect();
        let panels = n.div_ceil(NR);
        let parts =
            (super::linear::COLUMN_RANGES_PER_THREAD * team::threads()).clamp(1, panels.max(1));
        let mut out = Unfilled::new(m * n);
        let out_ptr = out.shared();
        // A task is one group of row blocks (its activations stay in the core's L2) times one range of
        // columns, groups outermost: a thread's next task mostly reads the same group. Tasks of a group
        // each, not a range of columns over every group, so that the loop's last task is short: with
        // 4 x threads tasks the core that finished first waited for the other up to one whole task
        // (2-3% of the int8 ViT-B/32's time at batch 32, the host's second vCPU being slower).
        team::for_each(groups.len() * parts, |task| {
            let (group, t) = (groups[task / parts], task % parts);
            let (j0, j1) = (t * panels / parts, (t + 1) * panels / parts);
            let mut j = j0;
            while j < j1 {
                // As many panels side by side as the tile reads and the range still has.
                let width = self.tile.panels().min(j1 - j);
                let columns = PanelColumns {
                    scales: &self.scales[j * NR..][..width * NR],
                    sums: &self.sums[j * NR..][..width * NR],
                    bias: &self.bias[j * NR..][..width * NR],
                };
                let panel = &self.panels[j * self.depth * NR..][..width * self.depth * NR];
                for &(r0, count) in group {
                    let at = r0 * n + j * NR;
                    let finish = match epilogue {
                        Epilogue::None => Finish::None,
                        Epilogue::Silu => Finish::Silu,
                        Epilogue::GeluTanh => Finish::GeluTanh,
                        Epilogue::AddTo(residual) => Finish::Add(residual[at..].as_ptr()),
                    };
                    let output = Output {
                        // SAFETY: `at` is row r0, column j * NR of the m x n output.
                        at: unsafe { out_ptr.add(at) },
                        stride: n,
                        columns: (width * NR).min(n - j * NR),
                        finish,
                    };
                    // SAFETY: `with_tile` checked the tile's instructions; rows r0.. of
                    // `activations` hold `depth` bytes each, `panel` holds `width` whole panels,
                    // `rows` and `columns` are as long as asked; task t alone writes columns
                    // j * NR .. of the output's rows r0 .. r0 + count, which `out` holds and
                    // outlives the loop, and a residual is m x n (`input_rows`).
                    unsafe {
                        run_tile(
                            self.tile,
                            (count, width),
                            self.depth / DEPTH_STEP,
                            &activations[r0 * self.depth..],
                            self.depth,
                            panel,
                            &rows[r0..r0 + count],
                            &columns,
                            output,
                        )
                    };
                }
                j += width;
            }
        });
        // SAFETY: the parts' panels cover columns 0..n of all m rows.
        unsafe { out.filled() }
    }
}

/// `tile` for `rows` (1..=[`Int8Tile::rows`]) rows of `panels` (1..=[`Int8Tile::panels`]) whole panels
/// side by side in `panel`, ended by `out.finish` in the tile's registers.
///
/// # Safety
/// As [`tiles_int8_vnni::tile`]: the CPU runs `tile`, the slices are as long as it reads, and `out` names
/// `rows` rows of `out.columns` writable values (readable at the residual's, for [`Finish::Add`]).
#[allow(clippy::too_many_arguments)]
unsafe fn run_tile(
    tile: Int8Tile,
    (rows, panels): (usize, usize),
    steps: usize,
    a: &[u8],
    lda: usize,
    panel: &[i8],
    scales: &[RowScale],
    columns: &PanelColumns<'_>,
    out: Output,
) {
    debug_assert!(a.len() >= (rows - 1) * lda + steps * DEPTH_STEP && scales.len() == rows);
    let (a, b) = (a.as_ptr(), panel.as_ptr());
    if tile == Int8Tile::Avx2 {
        debug_assert_eq!(panels, 1, "the avx2 tile reads one panel");
        // SAFETY: as the caller promises.
        unsafe {
            match rows {
                1 => tiles::tile::<1>(steps, a, lda, b, scales, columns, out),
                2 => tiles::tile::<2>(steps, a, lda, b, scales, columns, out),
                3 => tiles::tile::<3>(steps, a, lda, b, scales, columns, out),
                4 => tiles::tile::<4>(steps, a, lda, b, scales, columns, out),
                _ => unreachable!("an avx2 tile has 1 to {} rows, not {rows}", tiles::MR),
            }
        }
        return;
    }
    // Bytes from one panel to the next.
    let stride = panel.len() / panels;
    // SAFETY: as the caller promises.
    unsafe {
        macro_rules! vnni {
            ($($r:literal),*) => {
                match (rows, panels) {
                    $(
                        ($r, 1) => tiles_int8_vnni::tile::<$r, 1>(steps, a, lda, b, stride, scales, columns, out),
                        ($r, 2) => tiles_int8_vnni::tile::<$r, 2>(steps, a, lda, b, stride, scales, columns, out),
                    )*
                    _ => unreachable!(
                        "an avx512-vnni tile has 1 to {} rows and 1 to {} panels, not {rows} and {panels}",
                        tiles_int8_vnni::MR,
                        tiles_int8_vnni::PANELS
                    ),
                }
            };
        }
        vnni!(1, 2, 3, 4, 5, 6, 7, 8)
    }
}

/// One task's rows of [`quantize_rows`]: their bytes (not yet written) and their scales.
type RowsTask<'a> = (&'a mut [MaybeUninit<u8>], &'a mut [RowScale]);

/// The rows of `x` (`k` values each), through `norm` if given, quantised to 7 bits, `depth` bytes a row
/// (zero padded), with each row's scale; spread over the kernel threads. Every byte is written once (no
/// zeroed buffer first); a normed row lives only in its task's buffer.
fn quantize_rows(
    kernel: Kernel,
    x: &[f32],
    norm: Option<NormParams<'_>>,
    k: usize,
    depth: usize,
) -> (Vec<u8>, Vec<RowScale>) {
    let m = x.len() / k;
    let mut bytes: Vec<u8> = Vec::with_capacity(m * depth);
    let mut scales = vec![RowScale::default(); m];
    let tasks: Vec<Mutex<RowsTask<'_>>> = bytes.spare_capacity_mut()[..m * depth]
        .chunks_mut(ROWS_PER_TASK * depth)
        .zip(scales.chunks_mut(ROWS_PER_TASK))
        .map(Mutex::new)
        .collect();
    let quantize = |t: usize| {
        let mut task = tasks[t].lock().unwrap_or_else(|e| e.into_inner());
        let (bytes, scales) = &mut *task;
        let mut normed: Vec<f32> = Vec::with_capacity(if norm.is_some() { k } else { 0 });
        for (i, (q, s)) in bytes.chunks_mut(depth).zip(scales.iter_mut()).enumerate() {
            let mut row = &x[(t * ROWS_PER_TASK + i) * k..][..k];
            if let Some(norm) = norm {
                let out = &mut normed.spare_capacity_mut()[..k];
                normalise_rows(kernel, row, norm, out);
                // SAFETY: `normalise_rows` wrote all k values.
                row = unsafe { &*(out as *const [MaybeUninit<f32>] as *const [f32]) };
            }
            *s = quantize_row(kernel, row, &mut q[..k]);
            for pad in &mut q[k..] {
                pad.write(0);
            }
        }
    };
    if tasks.len() == 1 {
        quantize(0);
    } else {
        team::for_each(tasks.len(), quantize);
    }
    drop(tasks);
    // SAFETY: the tasks wrote all m rows of `depth` bytes (k quantised values, then zeros).
    unsafe { bytes.set_len(m * depth) };
    (bytes, scales)
}

/// One row to 7-bit steps between its minimum and maximum (zero included), written into `q`.
fn quantize_row(kernel: Kernel, x: &[f32], q: &mut [MaybeUninit<u8>]) -> RowScale {
    let mut scale = RowScale::default();
    quantize_row_at(kernel, x, q, &mut scale);
    scale
}

#[inline(always)]
fn quantize_row_body<const LANES: usize>(x: &[f32], q: &mut [MaybeUninit<u8>], out: &mut RowScale) {
    // Reductions in a vector's `LANES` (a single running value would keep the loop scalar; 8 lanes
    // compiled for AVX-512 came out as shuffles of half vectors, most of the quantisation's time), by
    // plain comparisons (`f32::min`'s NaN rule costs a compare and a blend per lane).
    let (mut lo, mut hi) = ([0f32; LANES], [0f32; LANES]);
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            lo[l] = if c[l] < lo[l] { c[l] } else { lo[l] };
            hi[l] = if c[l] > hi[l] { c[l] } else { hi[l] };
        }
    }
    let min = chunks
        .remainder()
        .iter()
        .chain(&lo)
        .fold(0f32, |m, &v| m.min(v));
    let max = chunks
        .remainder()
        .iter()
        .chain(&hi)
        .fold(0f32, |m, &v| m.max(v));
    let scale = if max > min {
        (max - min) / ACTIVATION_STEPS
    } else {
        1.0
    };
    let inv = 1.0 / scale;
    let zero = (-min * inv).round_ties_even().clamp(0.0, ACTIVATION_STEPS);
    // Rounded to the nearest step by adding 1.5 * 2^23, which leaves the integer in the low mantissa
    // bits: integer operations that vectorise (`round_ties_even` and `as u8` compiled to scalar code).
    for (d, &v) in q.iter_mut().zip(x) {
        let shifted = (v * inv + zero).clamp(0.0, ACTIVATION_STEPS) + ROUNDING_SHIFTER;
        d.write(shifted.to_bits() as u8);
    }
    *out = RowScale {
        scale,
        zero: zero as i32,
    };
}

vmath::per_level!(
    /// [`quantize_row_body`] compiled for the kernel's level.
    quantize_row_at(x: &[f32], q: &mut [MaybeUninit<u8>], out: &mut RowScale)
        => avx512: quantize_row_body::<16>, avx2: quantize_row_body::<8>
);

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0) - 1.0)
            .collect()
    }

    /// What the layer computes, written plainly: the same quantisation, sums in `i64`.
    fn reference(x: &[f32], w: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0f32; m * n];
        for i in 0..m {
            let row = &x[i * k..][..k];
            let min = row.iter().fold(0f32, |a, &v| a.min(v));
            let max = row.iter().fold(0f32, |a, &v| a.max(v));
            let sa = if max > min { (max - min) / 127.0 } else { 1.0 };
            let zero = (-min / sa).round_ties_even().clamp(0.0, 127.0);
            let qa: Vec<i64> = row
                .iter()
                .map(|v| ((v / sa + zero).round_ties_even().clamp(0.0, 127.0) - zero) as i64)
                .collect();
            for j in 0..n {
                let wr = &w[j * k..][..k];
                let amax = wr.iter().fold(0f32, |a, v| a.max(v.abs()));
                let sw = if amax > 0.0 { amax / 64.0 } else { 1.0 };
                let dot: i64 = wr
                    .iter()
                    .zip(&qa)
                    .map(|(v, a)| (v / sw).round_ties_even().clamp(-64.0, 64.0) as i64 * a)
                    .sum();
                y[i * n + j] = dot as f32 * sa * sw + b[j];
            }
        }
        y
    }

    fn plain(x: &[f32], w: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f32 = (0..k).map(|p| x[i * k + p] * w[j * k + p]).sum();
                y[i * n + j] = s + b[j];
            }
        }
        y
    }

    /// The tiles this CPU runs, each recorded as exercised; one it cannot run is a listed skip under its
    /// SIMD level's name (`avx512` for the VNNI tile: CI's machines without AVX-512 lack VNNI too).
    fn tiles() -> Vec<Int8Tile> {
        Int8Tile::ALL
            .into_iter()
            .filter(|&t| {
                let (what, level) = match t {
                    Int8Tile::Avx512Vnni => ("int8 tiles, vpdpbusd (AVX-512 VNNI)", "avx512"),
                    Int8Tile::Avx2 => ("int8 tiles, vpmaddubsw", "avx2"),
                };
                vsearch_testkit::kernels::runs(what, level, t.is_supported())
            })
            .collect()
    }

    /// Each tile's integer sums are exact: the layer matches its own arithmetic written plainly, on odd
    /// shapes (ragged panels, row blocks and depths), with each epilogue; and the tiles give the same
    /// bits.
    #[test]
    fn int8_linear_computes_its_quantised_product_exactly() {
        let Some(kernel) = Kernel::detect() else {
            return;
        };
        let tiles = tiles();
        for &(m, n, k) in &[
            (1, 1, 1),
            (5, 7, 3),
            (50, 96, 300),
            (77, 40, 513),
            (9, 33, 64),
        ] {
            let (x, w, b) = (values(m * k, 1), values(n * k, 2), values(n, 3));
            let layers: Vec<QuantizedLinear> = tiles
                .iter()
                .filter_map(|&t| QuantizedLinear::with_tile(kernel, t, &w, Some(&b), n, k))
                .collect();
            assert_eq!(layers.len(), tiles.len());
            let outputs: Vec<Vec<f32>> = layers
                .iter()
                .map(|l| l.forward(&x, Epilogue::None))
                .collect();
            for (layer, out) in layers.iter().zip(&outputs) {
                assert_eq!(
                    out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    outputs[0].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{m}x{n}x{k}: the {} tile differs from the {} tile",
                    layer.tile().name(),
                    layers[0].tile().name()
                );
            }
            for layer in &layers {
                check_layer(layer, (&x, &w, &b), (m, n, k));
            }
        }
    }

    /// The epilogues that the VNNI tile applies in its registers hold where `exp` clamps: outputs in
    /// the hundreds, both signs, over a ragged second panel (n = 40: panels of 16, 16 and 8 columns).
    #[test]
    fn int8_epilogues_hold_on_large_outputs() {
        let Some(kernel) = Kernel::detect() else {
            return;
        };
        let (m, n, k) = (13, 40, 96);
        let x: Vec<f32> = values(m * k, 8).iter().map(|v| v * 40.0).collect();
        let (w, b) = (values(n * k, 9), values(n, 10));
        for tile in tiles() {
            let layer = QuantizedLinear::with_tile(kernel, tile, &w, Some(&b), n, k)
                .expect("a tile this CPU runs");
            let plain = layer.forward(&x, Epilogue::None);
            assert!(plain.iter().any(|v| *v > 100.0) && plain.iter().any(|v| *v < -100.0));
            check_layer(&layer, (&x, &w, &b), (m, n, k));
        }
    }

    /// `layer`'s outputs, with each epilogue, against [`reference`].
    fn check_layer(
        layer: &QuantizedLinear,
        (x, w, b): (&[f32], &[f32], &[f32]),
        (m, n, k): (usize, usize, usize),
    ) {
        {
            let tile = layer.tile().name();
            let want = reference(x, w, b, m, n, k);
            let close = |got: &[f32], want: &[f32], what: &str| {
                for (i, (g, w)) in got.iter().zip(want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{m}x{n}x{k} {tile} {what}: [{i}] {g} vs {w}"
                    );
                }
            };
            close(&layer.forward(x, Epilogue::None), &want, "plain");
            let silu: Vec<f32> = want.iter().map(|v| v / (1.0 + (-v).exp())).collect();
            close(&layer.forward(x, Epilogue::Silu), &silu, "silu");
            let gelu: Vec<f32> = want
                .iter()
                .map(|&v| crate::cpu::testing::gelu_tanh(v))
                .collect();
            close(&layer.forward(x, Epilogue::GeluTanh), &gelu, "gelu_tanh");
            let r = values(m * n, 4);
            let added: Vec<f32> = want.iter().zip(&r).map(|(v, r)| v + r).collect();
            close(&layer.forward(x, Epilogue::AddTo(&r)), &added, "residual");
        }
    }

    /// Against the `f32` product the error is the rounding's: a few hundredths of the outputs' spread.
    /// The layer norm applied as rows are quantised gives the same bits as the norm, then the layer,
    /// on every tile and on rows spread over several tasks.
    #[test]
    fn a_normed_input_equals_the_norm_then_the_layer() {
        let Some(kernel) = Kernel::detect() else {
            return;
        };
        let (m, n, k) = (37, 48, 72);
        let (w, b) = (values(n * k, 1), values(n, 2));
        let x: Vec<f32> = values(m * k, 3).iter().map(|v| v * 5.0 + 1.0).collect();
        let (gamma, beta) = (values(k, 4), values(k, 5));
        let norm = NormParams {
            gamma: &gamma,
            beta: &beta,
            eps: 1e-5,
        };
        let normed = super::super::layer_norm(kernel, &x, &gamma, &beta, 1e-5);
        for tile in tiles() {
            let layer = QuantizedLinear::with_tile(kernel, tile, &w, Some(&b), n, k)
                .expect("a tile this CPU runs");
            for epilogue in [Epilogue::None, Epilogue::Silu] {
                let want = layer.forward(&normed, epilogue);
                let got = layer.forward_normed(&x, norm, epilogue);
                assert!(
                    want.iter()
                        .zip(&got)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{tile:?} {epilogue:?}"
                );
            }
        }
    }

    #[test]
    fn int8_linear_stays_close_to_f32() {
        let Some(kernel) = Kernel::detect() else {
            return;
        };
        let (m, n, k) = (64, 128, 768);
        let (x, w, b) = (values(m * k, 5), values(n * k, 6), values(n, 7));
        let Some(layer) = QuantizedLinear::new(kernel, &w, Some(&b), n, k) else {
            return;
        };
        let got = layer.forward(&x, Epilogue::None);
        let want = plain(&x, &w, &b, m, n, k);
        let dot: f64 = got.iter().zip(&want).map(|(a, b)| f64::from(a * b)).sum();
        let norm = |v: &[f32]| v.iter().map(|a| f64::from(a * a)).sum::<f64>().sqrt();
        let cosine = dot / (norm(&got) * norm(&want));
        assert!(cosine > 0.999, "cosine {cosine}");
    }
}
