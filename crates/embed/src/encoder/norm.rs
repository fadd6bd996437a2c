//! Layer norm as the towers run it: the CPU kernel ([`cpu::layer_norm`]) when the weights live on a CPU
//! that has one, candle's op on other devices (and with `VSEARCH_CPU_KERNELS=candle`).

use crate::cpu::{self, Kernel};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

/// A layer norm's weights (`weight`, `bias` under its prefix), ready for the device they live on.
pub(crate) struct LayerNorm {
    candle: candle_nn::LayerNorm,
    /// The level, `weight`, `bias` and epsilon for the CPU kernel, where it applies.
    cpu: Option<(Kernel, Vec<f32>, Vec<f32>, f32)>,
}

/// Loads the layer norm of `size` features under `vb` (as `candle_nn::layer_norm`).
pub(crate) fn layer_norm(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    let (weight, bias) = (vb.get(size, "weight")?, vb.get(size, "bias")?);
    let cpu = match (weight.device(), weight.dtype(), Kernel::selected()) {
        (Device::Cpu, DType::F32, Some(kernel)) => Some((
            kernel,
            weight.to_vec1::<f32>()?,
            bias.to_vec1::<f32>()?,
            eps as f32,
        )),
        _ => None,
    };
    Ok(LayerNorm {
        candle: candle_nn::LayerNorm::new(weight, bias, eps),
        cpu,
    })
}

impl LayerNorm {
    /// The level and parameters of the CPU kernel, where it applies to `x`.
    pub(crate) fn cpu_params(&self, x: &Tensor) -> Option<(Kernel, cpu::NormParams<'_>)> {
        match &self.cpu {
            Some((kernel, gamma, beta, eps)) if x.dtype() == DType::F32 && cpu::on_cpu(x) => {
                Some((
                    *kernel,
                    cpu::NormParams {
                        gamma,
                        beta,
                        eps: *eps,
                    },
                ))
            }
            _ => None,
        }
    }
}

impl Module for LayerNorm {
    /// `x` normalised over its last dimension.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.cpu_params(x) {
            Some((kernel, p)) => {
                let y = cpu::cpu_f32(x, |x| cpu::layer_norm(kernel, x, p.gamma, p.beta, p.eps))?;
                Tensor::from_vec(y, x.shape(), x.device())
            }
            None => self.candle.forward(x),
        }
    }
}
