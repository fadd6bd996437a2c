//! CPU kernels of the transformer towers (CLIP's, SigLIP's): linear layers on weights packed once at load
//! time ([`PackedLinear`]), one fused attention op ([`attention()`]), and the element-wise math they share.
//!
//! Each kernel is written for one SIMD level, chosen at run time ([`Kernel::detect`]): AVX-512F where the
//! CPU has it, AVX2+FMA otherwise. Without either (or off x86-64) the towers keep candle's ops, as they do
//! on other devices.

mod attention;
pub mod conv;
mod gemm;
mod linear;
#[cfg(target_arch = "x86_64")]
mod linear_int8;
mod norm;
mod team;
mod tile_operands;
#[cfg(target_arch = "x86_64")]
mod tiles_avx2;
#[cfg(target_arch = "x86_64")]
mod tiles_avx512;
#[cfg(target_arch = "x86_64")]
mod tiles_bf16;
#[cfg(target_arch = "x86_64")]
mod tiles_int8_avx2;
#[cfg(target_arch = "x86_64")]
mod tiles_int8_vnni;
mod vmath;

pub use attention::{attention, AttentionProducts, Queries};
pub use linear::{Epilogue, PackedLinear};
#[cfg(target_arch = "x86_64")]
pub use linear_int8::{Int8Tile, QuantizedLinear};
pub use norm::{layer_norm, NormParams};
pub(crate) use team::Preparing;

use crate::error::{EmbedError, Result};
use candle_core::{Device, Storage, Tensor};
use std::mem::MaybeUninit;
use vsearch_core::simd::SimdLevel;

/// Whether `x` lives on the CPU, where these kernels apply.
pub fn on_cpu(x: &Tensor) -> bool {
    matches!(x.device(), Device::Cpu)
}

/// Runs `f` on the contiguous `f32` data of a CPU tensor (copied only if `x` is not contiguous).
pub(crate) fn cpu_f32<R>(x: &Tensor, f: impl FnOnce(&[f32]) -> R) -> candle_core::Result<R> {
    let x = x.contiguous()?;
    let (storage, layout) = x.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("CPU kernel: tensor is not on the CPU")
    };
    let data = cpu.as_slice::<f32>()?;
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("CPU kernel: tensor is not contiguous")
    };
    Ok(f(&data[start..end]))
}

/// [`cpu_f32`] for kernels that fail with [`EmbedError`].
pub(crate) fn with_cpu_slice<R>(x: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    cpu_f32(x, f)?
}

fn kernel_err(reason: &str) -> EmbedError {
    EmbedError::Kernel {
        reason: reason.to_string(),
    }
}

/// The SIMD level a CPU kernel runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512F: 16 lanes, 32 registers.
    Avx512,
    /// AVX2 with FMA: 8 lanes, 16 registers.
    Avx2,
}

impl Kernel {
    /// Every level, best first.
    pub const ALL: [Kernel; 2] = [Kernel::Avx512, Kernel::Avx2];

    /// The instruction set the level's kernels are written for.
    pub fn simd(self) -> SimdLevel {
        match self {
            Kernel::Avx512 => SimdLevel::Avx512,
            Kernel::Avx2 => SimdLevel::Avx2,
        }
    }

    /// The level's name in reports and in [`KERNELS_ENV`]: `"avx512"` or `"avx2"`.
    pub fn name(self) -> &'static str {
        self.simd().name()
    }

    /// Whether this CPU can run the level.
    pub fn is_supported(self) -> bool {
        self.simd().is_supported()
    }

    /// The best level this CPU runs, or `None` (candle's ops are used then).
    pub fn detect() -> Option<Kernel> {
        Self::available().next()
    }

    /// Every level this CPU runs, best first (tests check each).
    pub fn available() -> impl Iterator<Item = Kernel> {
        Self::ALL.into_iter().filter(|k| k.is_supported())
    }

    /// The level the models' CPU kernels use, decided once per process: [`Kernel::detect`], unless the
    /// environment variable [`KERNELS_ENV`] says `candle` (the transformer towers run candle's ops and
    /// Lite0's convolutions their portable code, for comparisons) or names a lower level this CPU runs
    /// (`avx2`).
    pub fn selected() -> Option<Kernel> {
        static CHOSEN: std::sync::OnceLock<Option<Kernel>> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let wanted = std::env::var(KERNELS_ENV).unwrap_or_default();
            match wanted.trim() {
                "" => Self::detect(),
                "candle" => None,
                name => {
                    let level = Self::available().find(|k| k.name() == name);
                    if level.is_none() {
                        tracing::warn!(
                            "{KERNELS_ENV}={name}: not a kernel level this CPU runs (one of {:?}, or \
                             `candle`); using {:?}",
                            Self::available().map(Kernel::name).collect::<Vec<_>>(),
                            Self::detect().map(Kernel::name)
                        );
                    }
                    level.or_else(Self::detect)
                }
            }
        })
    }
}

/// Environment variable that picks the CPU kernel level ([`Kernel::selected`]).
pub const KERNELS_ENV: &str = "VSEARCH_CPU_KERNELS";

/// A pointer that parallel tasks may share, for outputs they write at disjoint places.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: every user writes only the part of the buffer its task owns (stated at each use).
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer `offset` values in (a method, so closures capture the whole `Send` wrapper).
    ///
    /// # Safety
    /// As `pointer::add`: `offset` stays inside the buffer.
    unsafe fn add(self, offset: usize) -> *mut f32 {
        // SAFETY: the caller keeps `offset` inside the buffer.
        unsafe { self.0.add(offset) }
    }

    /// The `len` slots at `offset`, not yet written: the part of an [`Unfilled`] buffer that one task
    /// fills ([`write_each`], [`write_all`]).
    ///
    /// # Safety
    /// The range is inside the buffer and no other task touches it while the view lives.
    unsafe fn slots<'a>(self, offset: usize, len: usize) -> &'a mut [MaybeUninit<f32>] {
        // SAFETY: as the caller promises; `MaybeUninit` makes no claim about the values.
        unsafe { std::slice::from_raw_parts_mut(self.add(offset).cast(), len) }
    }

    /// The `len` values at `offset`, zeroed: the part of an [`Unfilled`] buffer that one task writes.
    ///
    /// # Safety
    /// The range is inside the buffer and no other task touches it while the view lives.
    unsafe fn part<'a>(self, offset: usize, len: usize) -> &'a mut [f32] {
        // SAFETY: as the caller promises.
        write_each(unsafe { self.slots(offset, len) }, 0.0)
    }
}

/// `value` written into every slot: the slots, now values.
fn write_each(slots: &mut [MaybeUninit<f32>], value: f32) -> &mut [f32] {
    for slot in slots.iter_mut() {
        slot.write(value);
    }
    // SAFETY: every slot was written just above.
    unsafe { &mut *(slots as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// `values` written into the slots, one each: the slots, now values.
///
/// # Panics
/// If the counts differ.
fn write_all<'a>(slots: &'a mut [MaybeUninit<f32>], values: &[f32]) -> &'a mut [f32] {
    assert_eq!(slots.len(), values.len(), "one value per slot");
    for (slot, &value) in slots.iter_mut().zip(values) {
        slot.write(value);
    }
    // SAFETY: every slot was written just above.
    unsafe { &mut *(slots as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// An output of `len` values that the tasks of a parallel loop fill, each its own part, allocated
/// without being zeroed first: `vec![0.0; len]` zeroed a batch's activations on the calling thread
/// alone while the other kernel threads waited (a tenth of a Lite0 forward pass at batch 32). A task's
/// first write to its part is what the part starts from (a bias: [`gemm::OutputStart`], or the
/// depthwise kernels' own stores, [`SharedMut::slots`]); parts that have none are zeroed as they are
/// taken ([`SharedMut::part`]), in cache, just before being written.
struct Unfilled {
    values: Vec<f32>,
    len: usize,
}

impl Unfilled {
    fn new(len: usize) -> Self {
        Self {
            values: Vec::with_capacity(len),
            len,
        }
    }

    /// Where the tasks write.
    fn shared(&mut self) -> SharedMut {
        SharedMut(self.values.as_mut_ptr())
    }

    /// The values, once written.
    ///
    /// # Safety
    /// Every one of the `len` values has been written through [`Unfilled::shared`], and no task
    /// writes any more.
    unsafe fn filled(mut self) -> Vec<f32> {
        // SAFETY: capacity `len`, every value initialised, as the caller promises.
        unsafe { self.values.set_len(self.len) };
        self.values
    }
}

/// Helpers for the kernels' tests against candle's ops.
#[cfg(test)]
pub(crate) mod testing {
    use super::Kernel;
    use candle_core::{DType, Tensor};

    /// The kernel levels a test of `what` (e.g. "embed linear f32") checks: every level this CPU runs,
    /// each recorded as exercised; a level it cannot run is a listed skip (a failure unless allowed), so
    /// a CPU without AVX-512 never passes the AVX-512 tests silently.
    pub(crate) fn levels(what: &str) -> Vec<Kernel> {
        let all: Vec<(Kernel, &str, bool)> = Kernel::ALL
            .iter()
            .map(|&k| (k, k.name(), k.is_supported()))
            .collect();
        vsearch_testkit::kernels::levels(what, &all)
    }

    /// The tanh GELU as PyTorch defines it (`gelu(x, approximate="tanh")`), computed in f64.
    pub(crate) fn gelu_tanh(x: f32) -> f32 {
        let x = x as f64;
        let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
        (0.5 * x * (1.0 + u.tanh())) as f32
    }

    /// The largest absolute difference between two equally long value lists.
    pub(crate) fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len(), "compared values differ in count");
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    }

    /// The root mean square of the differences between two equally long value lists.
    pub(crate) fn rms_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len(), "compared values differ in count");
        let sum: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        (sum / a.len() as f32).sqrt()
    }

    /// The largest absolute difference between two tensors of one shape.
    pub(crate) fn max_abs_diff_tensors(a: &Tensor, b: &Tensor) -> candle_core::Result<f32> {
        assert_eq!(a.dims(), b.dims(), "compared tensors differ in shape");
        let values = |t: &Tensor| t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>();
        Ok(max_abs_diff(&values(a)?, &values(b)?))
    }
}
