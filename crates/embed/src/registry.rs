//! Model presets, resolution (explicit folder, local cache, download) and loading.

use crate::device::DeviceSpec;
use crate::error::Result;
use crate::Embedder;
use std::path::PathBuf;

/// Which model to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// CLIP ViT-B/32 when cached or downloadable, else EfficientNet-Lite0.
    Auto,
    /// A preset name: `clip-vit-b32`, `clip-vit-b16`, `clip-vit-l14`, `efficientnet-lite0`.
    Preset(String),
    /// A CLIP-format folder (`config.json`, `model.safetensors`, `tokenizer.json`).
    Dir(PathBuf),
}

/// A preset as `vsearch models list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PresetInfo {
    pub name: String,
    pub source: String,
    pub dim: usize,
    pub text: bool,
    pub cached: bool,
}

/// Root of vsearch's model cache: `$VSEARCH_CACHE`, else `$XDG_CACHE_HOME/vsearch`, else `~/.cache/vsearch`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VSEARCH_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("vsearch")
}

/// Loads a model on a device.
pub fn load(spec: &ModelSpec, device: &DeviceSpec) -> Result<Embedder> {
    let _ = (spec, device);
    todo!("CLIP and EfficientNet-Lite0 loading")
}
