//! A linear layer as the towers run it: packed for the CPU kernels ([`PackedLinear`]) when the weights
//! live on a CPU that has them, candle's `Linear` on other devices (and with `VSEARCH_CPU_KERNELS=candle`).

use crate::cpu::{self, Epilogue, Kernel, PackedLinear};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::Linear;

/// What a projection does with its product before returning it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Then<'a> {
    /// Nothing: `x W^T + b`.
    Return,
    /// `silu(x W^T + b)`.
    Silu,
    /// `r + x W^T + b` for a residual stream `r` of the output's shape.
    AddTo(&'a Tensor),
}

/// One linear layer of a tower.
pub(crate) enum Projection {
    Packed(PackedLinear),
    Candle(Linear),
}

impl Projection {
    /// Packs `linear` for the CPU kernels where they apply ([`Kernel::selected`]), else keeps it.
    pub(crate) fn new(linear: Linear) -> candle_core::Result<Self> {
        let w = linear.weight();
        match (w.device(), w.dtype(), Kernel::selected()) {
            (Device::Cpu, DType::F32, Some(kernel)) => {
                let (n, k) = w.dims2()?;
                let weight = w.flatten_all()?.to_vec1::<f32>()?;
                let bias = linear.bias().map(|b| b.to_vec1::<f32>()).transpose()?;
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
            Self::Candle(_) => None,
        }
    }

    /// `x` (`rows x in`) through the layer, then `then`.
    pub(crate) fn forward(&self, x: &Tensor, then: Then<'_>) -> candle_core::Result<Tensor> {
        match self {
            Self::Packed(p) => {
                let rows = x.elem_count() / p.in_features().max(1);
                let run = |epilogue: Epilogue<'_>| cpu::cpu_f32(x, |x| p.forward(x, epilogue));
                let out = match then {
                    Then::Return => run(Epilogue::None)?,
                    Then::Silu => run(Epilogue::Silu)?,
                    Then::AddTo(r) => cpu::cpu_f32(r, |r| run(Epilogue::AddTo(r)))??,
                };
                Tensor::from_vec(out, (rows, p.out_features()), x.device())
            }
            Self::Candle(l) => {
                let y = l.forward(x)?;
                match then {
                    Then::Return => Ok(y),
                    Then::Silu => y.silu(),
                    Then::AddTo(r) => r + y,
                }
            }
        }
    }
}
