//! The EfficientNet-Lite0 network (architecture, batch-norm folding, forward pass) and its
//! [`ImageEmbedder`] with Lite0's preprocessing recipe.
//!
//! Architecture as PyPI `efficientnet_lite_pytorch==0.1.0`: TF 'SAME' padding (the extra pixel goes
//! bottom/right), ReLU6, no squeeze-excite, batch norm eps 1e-3 (folded into the convolutions at load),
//! stem 32, head 1280. On the CPU the convolutions run on the hand kernels of [`crate::cpu::conv`]; other
//! devices use candle's ops.

use super::{DIM, INPUT_SIZE, MODEL_ID};
use crate::cpu::conv as cpu_conv;
use crate::cpu::Kernel;
use crate::embedder::{ImageEmbedder, Pixels};
use crate::error::{EmbedError, Result};
use crate::preprocess::{self, Crop};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Conv2d, Conv2dConfig, Linear};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const BN_EPS: f64 = 1e-3;

/// `(kernel, stride, expand ratio, input channels, output channels)` of the 16 MBConv blocks.
const BLOCKS: [(usize, usize, usize, usize, usize); 16] = [
    (3, 1, 1, 32, 16),
    (3, 2, 6, 16, 24),
    (3, 1, 6, 24, 24),
    (5, 2, 6, 24, 40),
    (5, 1, 6, 40, 40),
    (3, 2, 6, 40, 80),
    (3, 1, 6, 80, 80),
    (3, 1, 6, 80, 80),
    (5, 1, 6, 80, 112),
    (5, 1, 6, 112, 112),
    (5, 1, 6, 112, 112),
    (5, 2, 6, 112, 192),
    (5, 1, 6, 192, 192),
    (5, 1, 6, 192, 192),
    (5, 1, 6, 192, 192),
    (3, 1, 6, 192, 320),
];

/// A convolution with its batch norm folded in (once, at load), TF 'SAME' padding, optional ReLU6.
struct ConvBn {
    conv: Conv2d,
    kernel: usize,
    stride: usize,
    relu6: bool,
    /// On the CPU, the convolution runs on a [`cpu_conv`] kernel with these folded weights and biases
    /// (flat, row-major); `None` on other devices, which use `conv`.
    cpu: Option<CpuKernel>,
}

/// A layer's CPU kernel with its folded weights and biases (flat, row-major).
enum CpuKernel {
    /// A 1x1 convolution, its weights packed at load for the level [`Kernel::selected`] chose.
    Pointwise(cpu_conv::Pointwise),
    /// A depthwise or a dense (few input channels) convolution: taps read as they are, at the level
    /// [`Kernel::selected`] gives at each call.
    Taps {
        depthwise: bool,
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
}

impl ConvBn {
    fn load(
        w: &Checkpoint,
        conv: &str,
        bn: &str,
        stride: usize,
        groups: usize,
        relu6: bool,
    ) -> Result<Self> {
        let weight = w.get(&format!("{conv}.weight"))?;
        let gamma = w.get(&format!("{bn}.weight"))?;
        let beta = w.get(&format!("{bn}.bias"))?;
        let mean = w.get(&format!("{bn}.running_mean"))?;
        let var = w.get(&format!("{bn}.running_var"))?;
        let scale = (gamma / (var + BN_EPS)?.sqrt()?)?;
        let kernel = weight.dim(3)?;
        let folded = weight.broadcast_mul(&scale.reshape((scale.dim(0)?, 1, 1, 1))?)?;
        let bias = (beta - (mean * &scale)?)?;
        let (c_out, c_in_per_group) = (folded.dim(0)?, folded.dim(1)?);
        let cpu = if !matches!(folded.device(), Device::Cpu) {
            None
        } else if groups == 1 && kernel == 1 && stride == 1 {
            let weight = folded.flatten_all()?.to_vec1::<f32>()?;
            let pointwise = cpu_conv::Pointwise::new(Kernel::selected(), weight, bias.to_vec1()?)?;
            Some(CpuKernel::Pointwise(pointwise))
        } else if (groups > 1 && groups == c_out && c_in_per_group == 1)
            || (groups == 1 && c_in_per_group <= 4)
        {
            Some(CpuKernel::Taps {
                depthwise: groups > 1,
                weight: folded.flatten_all()?.to_vec1()?,
                bias: bias.to_vec1()?,
            })
        } else {
            None
        };
        let cfg = Conv2dConfig {
            padding: 0,
            stride,
            dilation: 1,
            groups,
            cudnn_fwd_algo: None,
        };
        Ok(Self {
            conv: Conv2d::new(folded, Some(bias), cfg),
            kernel,
            stride,
            relu6,
            cpu,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_adding(x, None)
    }

    /// The layer's output plus `residual` (before the ReLU6, where the layer has one).
    fn forward_adding(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        let (k, s, relu6) = (self.kernel, self.stride, self.relu6);
        let y = match &self.cpu {
            Some(CpuKernel::Pointwise(p)) if cpu_conv::on_cpu(x) => {
                return p.forward(x, residual, relu6);
            }
            Some(CpuKernel::Taps {
                depthwise,
                weight,
                bias,
            }) if cpu_conv::on_cpu(x) && residual.is_none() => {
                let conv = if *depthwise {
                    cpu_conv::depthwise_conv
                } else {
                    cpu_conv::dense_conv
                };
                return conv(Kernel::selected(), x, weight, bias, k, s, relu6);
            }
            _ => self.conv.forward(&cpu_conv::pad_same(x, k, s)?)?,
        };
        let y = match residual {
            Some(r) => (y + r)?,
            None => y,
        };
        Ok(if relu6 { y.clamp(0f32, 6f32)? } else { y })
    }
}

/// An MBConv block (without squeeze-excite): optional 1x1 expansion, depthwise convolution, 1x1
/// projection, and the residual connection when shapes allow.
struct Block {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    residual: bool,
}

impl Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = match &self.expand {
            Some(e) => e.forward(x)?,
            None => x.clone(),
        };
        h = self.depthwise.forward(&h)?;
        // The residual is added in the projection's output.
        self.project.forward_adding(&h, self.residual.then_some(x))
    }
}

/// Named tensors of a converted checkpoint.
struct Checkpoint {
    tensors: HashMap<String, Tensor>,
    path: PathBuf,
}

impl Checkpoint {
    fn get(&self, name: &str) -> Result<Tensor> {
        self.tensors
            .get(name)
            .cloned()
            .ok_or_else(|| EmbedError::Weights {
                path: self.path.clone(),
                reason: format!(
                    "tensor {name} missing; re-run `vsearch models fetch efficientnet-lite0`"
                ),
            })
    }
}

/// The network: stem, 16 MBConv blocks, head, and the ImageNet classifier.
pub struct Lite0 {
    stem: ConvBn,
    blocks: Vec<Block>,
    head: ConvBn,
    classifier: Linear,
}

impl Lite0 {
    fn load(weights: &Checkpoint) -> Result<Self> {
        let stem = ConvBn::load(weights, "_conv_stem", "_bn0", 2, 1, true)?;
        let blocks = BLOCKS
            .iter()
            .enumerate()
            .map(|(i, &(k, s, e, cin, cout))| {
                let p = format!("_blocks.{i}");
                let hidden = cin * e;
                let expand = if e != 1 {
                    Some(ConvBn::load(
                        weights,
                        &format!("{p}._expand_conv"),
                        &format!("{p}._bn0"),
                        1,
                        1,
                        true,
                    )?)
                } else {
                    None
                };
                let depthwise = ConvBn::load(
                    weights,
                    &format!("{p}._depthwise_conv"),
                    &format!("{p}._bn1"),
                    s,
                    hidden,
                    true,
                )?;
                debug_assert_eq!(depthwise.kernel, k);
                let project = ConvBn::load(
                    weights,
                    &format!("{p}._project_conv"),
                    &format!("{p}._bn2"),
                    1,
                    1,
                    false,
                )?;
                Ok(Block {
                    expand,
                    depthwise,
                    project,
                    residual: s == 1 && cin == cout,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let head = ConvBn::load(weights, "_conv_head", "_bn1", 1, 1, true)?;
        let classifier = Linear::new(weights.get("_fc.weight")?, Some(weights.get("_fc.bias")?));
        Ok(Self {
            stem,
            blocks,
            head,
            classifier,
        })
    }

    /// Pooled 1280-d features of a `batch x 3 x 224 x 224` input (not normalised).
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.dim(0)?;
        if cpu_conv::on_cpu(x) && n > 1 {
            // One image at a time keeps its activations in cache; the kernels spread each layer over
            // the threads.
            let rows = (0..n)
                .map(|i| self.features_of(&x.narrow(0, i, 1)?))
                .collect::<Result<Vec<_>>>()?;
            return Ok(Tensor::cat(&rows, 0)?);
        }
        self.features_of(x)
    }

    fn features_of(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.stem.forward(x)?;
        for block in &self.blocks {
            h = block.forward(&h)?;
        }
        h = self.head.forward(&h)?;
        Ok(h.mean(D::Minus1)?.mean(D::Minus1)?)
    }

    /// ImageNet logits (1000 classes) of pooled features.
    pub fn classify(&self, features: &Tensor) -> Result<Tensor> {
        Ok(self.classifier.forward(features)?)
    }
}

/// EfficientNet-Lite0 as an [`ImageEmbedder`].
pub struct Lite0Embedder {
    model: Lite0,
    device: Device,
}

impl Lite0Embedder {
    /// Loads converted weights (safetensors) onto `device`.
    pub fn load(weights: &Path, device: &Device) -> Result<Self> {
        let tensors =
            candle_core::safetensors::load(weights, device).map_err(|e| EmbedError::Weights {
                path: weights.to_path_buf(),
                reason: format!("{e}; re-run `vsearch models fetch efficientnet-lite0`"),
            })?;
        let tensors = tensors
            .into_iter()
            .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        let model = Lite0::load(&Checkpoint {
            tensors,
            path: weights.to_path_buf(),
        })?;
        Ok(Self {
            model,
            device: device.clone(),
        })
    }

    /// The network, for classification checks.
    pub fn model(&self) -> &Lite0 {
        &self.model
    }

    /// Pooled features (not normalised) and ImageNet logits of preprocessed images.
    pub fn features_and_logits(&self, batch: &[Pixels]) -> Result<(Tensor, Tensor)> {
        let x = preprocess::batch_tensor(batch, &self.device)?;
        let features = self.model.features(&x)?;
        let logits = self.model.classify(&features)?;
        Ok((features, logits))
    }
}

/// The shorter side Lite0's centre crop is a fraction `INPUT_SIZE / CROP_BASE` of: an image with this
/// shorter side is cropped to exactly [`INPUT_SIZE`].
const CROP_BASE: u32 = 256;

/// Lite0's recipe: RGB, centre crop of side `int(224/256 * min(h, w))`, bicubic resize to 224,
/// `(x - 127) / 128`.
pub fn preprocess_image(image: &image::DynamicImage) -> Result<Pixels> {
    let rgb = preprocess::rgb(image);
    let (w, h) = rgb.dimensions();
    let side = ((INPUT_SIZE as f64 / CROP_BASE as f64) * w.min(h) as f64) as u32;
    let side = side.max(1);
    let crop = Crop {
        left: (w - side) / 2,
        top: (h - side) / 2,
        width: side,
        height: side,
    };
    let resized = preprocess::resize_bicubic(&rgb, Some(crop), INPUT_SIZE, INPUT_SIZE)?;
    Ok(preprocess::to_pixels(&resized, 1.0, [127.0; 3], [128.0; 3]))
}

impl ImageEmbedder for Lite0Embedder {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dim(&self) -> usize {
        DIM
    }

    fn preprocess(&self, image: &image::DynamicImage) -> Result<Pixels> {
        preprocess_image(image)
    }

    fn decode_size(&self) -> crate::image_io::DecodeSize {
        crate::image_io::DecodeSize::ShortSide(CROP_BASE)
    }

    fn embed_pixels(&self, batch: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let x = preprocess::batch_tensor(batch, &self.device)?;
        preprocess::normalized_rows(&self.model.features(&x)?)
    }
}
