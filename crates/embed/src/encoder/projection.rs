//! A linear layer as the towers run it: packed for the CPU kernels ([`PackedLinear`]) when the weights
//! live on a CPU that has them, quantised for the int8 kernel ([`QuantizedLinear`]) when the model runs at
//! [`Precision::Int8`], candle's `Linear` on other devices (and with `VSEARCH_CPU_KERNELS=candle`).

use super::norm::LayerNorm;
#[cfg(target_arch = "x86_64")]
use crate::cpu::QuantizedLinear;
use crate::cpu::{self, Epilogue, Kernel, PackedLinear};
use crate::precision::Precision;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::Linear;

/// What a projection does with its product before returning it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Then<'a> {
    /// Nothing: `x W^T + b`.
    Return,
    /// `silu(x W^T + b)`.
    Silu,
    /// `gelu_tanh(x W^T + b)` (transformers' `gelu_pytorch_tanh`).
    GeluTanh,
    /// `r + x W^T + b` for a residual stream `r` of the output's shape.
    AddTo(&'a Tensor),
}

/// One linear layer of a tower.
pub(crate) enum Projection {
    Packed(PackedLinear),
    #[cfg(target_arch = "x86_64")]
    Int8(QuantizedLinear),
    Candle(Linear),
}

impl Projection {
    /// Packs `linear` for the CPU kernels where they apply ([`Kernel::selected`]), quantised at
    /// [`Precision::Int8`] (where the CPU runs the int8 kernel: the loader checks that first), else keeps
    /// it.
    pub(crate) fn new(linear: Linear, precision: Precision) -> candle_core::Result<Self> {
        let w = linear.weight();
        match (w.device(), w.dtype(), Kernel::selected()) {
            (Device::Cpu, DType::F32, Some(kernel)) => {
                let (n, k) = w.dims2()?;
                let weight = w.flatten_all()?.to_vec1::<f32>()?;
                let bias = linear.bias().map(|b| b.to_vec1::<f32>()).transpose()?;
                #[cfg(not(target_arch = "x86_64"))]
                let _ = precision;
                #[cfg(target_arch = "x86_64")]
                if precision == Precision::Int8 {
                    if let Some(q) = QuantizedLinear::new(kernel, &weight, bias.as_deref(), n, k) {
                        return Ok(Self::Int8(q));
                    }
                }
                Ok(Self::Packed(PackedLinear::new(
                    kernel,
                    &weight,
                    bias.as_deref(),
                    n,
                    k,
                )))
            }
            _ => Ok(Self::Candle(linear)),
        }
    }

    /// The CPU kernel level this projection runs at, if packed.
    pub(crate) fn kernel(&self) -> Option<Kernel> {
        match self {
            Self::Packed(p) => Some(p.kernel()),
            #[cfg(target_arch = "x86_64")]
            Self::Int8(q) => Some(q.kernel()),
            Self::Candle(_) => None,
        }
    }

    /// `x` (`rows x in`) through the layer, then `then`.
    pub(crate) fn forward(&self, x: &Tensor, then: Then<'_>) -> candle_core::Result<Tensor> {
        match self {
            Self::Packed(p) => on_cpu(x, then, p.out_features(), |x, e| p.forward(x, e)),
            #[cfg(target_arch = "x86_64")]
            Self::Int8(q) => on_cpu(x, then, q.out_features(), |x, e| q.forward(x, e)),
            Self::Candle(l) => {
                let y = l.forward(x)?;
                match then {
                    Then::Return => Ok(y),
                    Then::Silu => y.silu(),
                    Then::GeluTanh => y.gelu(),
                    Then::AddTo(r) => r + y,
                }
            }
        }
    }
}

impl Projection {
    /// `norm(x)` through the layer, then `then`: an int8 layer applies the norm to each row as it
    /// quantises it (the normed rows are never stored); any other runs the norm, then the layer.
    pub(crate) fn forward_normed(
        &self,
        x: &Tensor,
        norm: &LayerNorm,
        then: Then<'_>,
    ) -> candle_core::Result<Tensor> {
        #[cfg(target_arch = "x86_64")]
        if let (Self::Int8(q), Some((_, params))) = (self, norm.cpu_params(x)) {
            return on_cpu(x, then, q.out_features(), |x, e| {
                q.forward_normed(x, params, e)
            });
        }
        self.forward(&norm.forward(x)?, then)
    }
}

/// `x` through a CPU layer of `out_features` outputs (`forward`), then `then` as the layer's epilogue.
fn on_cpu(
    x: &Tensor,
    then: Then<'_>,
    out_features: usize,
    forward: impl Fn(&[f32], Epilogue<'_>) -> Vec<f32>,
) -> candle_core::Result<Tensor> {
    let run = |epilogue: Epilogue<'_>| cpu::cpu_f32(x, |x| forward(x, epilogue));
    let out = match then {
        Then::Return => run(Epilogue::None)?,
        Then::Silu => run(Epilogue::Silu)?,
        Then::GeluTanh => run(Epilogue::GeluTanh)?,
        Then::AddTo(r) => cpu::cpu_f32(r, |r| run(Epilogue::AddTo(r)))??,
    };
    let rows = out.len() / out_features.max(1);
    Tensor::from_vec(out, (rows, out_features), x.device())
}
