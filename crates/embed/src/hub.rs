//! The Hugging Face hub: settings from the environment as the Python tools read them, and fetching a
//! checkpoint's files (with their fallbacks) into the hub cache through hf-hub.
//!
//! - `HF_ENDPOINT` (a mirror; default `https://huggingface.co`), `HF_HOME` (default `~/.cache/huggingface`),
//!   `HF_HUB_CACHE` (default `$HF_HOME/hub`), `HF_TOKEN` (default: the `token` file under `HF_HOME`),
//!   `HF_HUB_OFFLINE` (`1`/`true`/`yes`/`on`: the cache only).
//! - hf-hub downloads into `blobs/<etag>.sync.part`, resumes it with a `Range` request after an
//!   interruption, and renames it to `blobs/<etag>` when the transfer ends. A transfer that ends early
//!   without an error (a server closing a response of unknown length) would still be renamed, so every
//!   file fetched here is checked against its etag — the SHA-256 of the content for LFS files, the git
//!   blob SHA-1 for small ones — and removed from the cache when it does not match.

use crate::error::{EmbedError, Result};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where and how to reach the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSettings {
    pub endpoint: String,
    /// The hub cache (`models--OWNER--NAME/{blobs,refs,snapshots}` inside).
    pub cache: PathBuf,
    pub token: Option<String>,
    /// Never touch the network.
    pub offline: bool,
}

impl HubSettings {
    /// Settings from the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
    }

    /// Settings from `var` (the environment, or a test's map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            var("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".cache/huggingface")
        });
        let cache = var("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join("hub"));
        let token = var("HF_TOKEN").or_else(|| {
            std::fs::read_to_string(home.join("token"))
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        });
        Self {
            endpoint: var("HF_ENDPOINT")
                .map(|e| e.trim_end_matches('/').to_string())
                .unwrap_or_else(|| "https://huggingface.co".to_string()),
            cache,
            token,
            offline,
        }
    }
}

/// A repo at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRepo {
    pub repo: String,
    pub revision: String,
}

impl HubRepo {
    /// `OWNER/NAME[@REVISION]` (revision `main` when absent).
    pub fn parse(s: &str) -> Option<Self> {
        let (repo, revision) = match s.split_once('@') {
            Some((repo, rev)) if !rev.is_empty() => (repo, rev),
            Some(_) => return None,
            None => (s, "main"),
        };
        let (owner, name) = repo.split_once('/')?;
        let ok = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        (ok(owner) && ok(name)).then(|| Self {
            repo: repo.to_string(),
            revision: revision.to_string(),
        })
    }
}

impl std::fmt::Display for HubRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.repo, self.revision)
    }
}

/// What a checkpoint needs: each inner list is one file, alternatives in the order tried.
pub struct Wanted<'a> {
    pub required: &'a [&'a [&'a str]],
    pub optional: &'a [&'a str],
}

/// Fetches (or finds in the cache) what `wanted` lists of `repo` and returns the snapshot folder
/// holding them. Sharded safetensors (`model.safetensors.index.json`) bring their shards.
pub fn fetch(repo: &HubRepo, wanted: &Wanted<'_>, settings: &HubSettings) -> Result<PathBuf> {
    let hub_repo = hf_hub::Repo::with_revision(
        repo.repo.clone(),
        hf_hub::RepoType::Model,
        repo.revision.clone(),
    );
    let cache = hf_hub::Cache::new(settings.cache.clone()).repo(hub_repo.clone());
    let api = if settings.offline {
        None
    } else {
        let api =
            hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(settings.cache.clone()))
                .with_endpoint(settings.endpoint.clone())
                .with_token(settings.token.clone())
                .with_progress(true)
                .with_retries(0)
                .build()
                .map_err(|e| download_error(repo, e.to_string(), settings))?;
        Some(api.repo(hub_repo))
    };
    let get = |file: &str| -> Result<Option<PathBuf>> {
        if let Some(path) = cache.get(file) {
            return Ok(Some(path));
        }
        let Some(api) = &api else {
            return Ok(None);
        };
        match api.download(file) {
            Ok(path) => {
                verify_download(&path, file)?;
                Ok(Some(path))
            }
            Err(e) if http_status(&e) == Some(404) => Ok(None),
            Err(e) if matches!(http_status(&e), Some(401 | 403)) => Err(download_error(
                repo,
                format!(
                    "{file}: {e}: the repo is private or gated, or does not exist; for a private or gated \
                     repo set HF_TOKEN (or log in with `huggingface-cli login`, which writes the token file \
                     under HF_HOME)"
                ),
                settings,
            )),
            Err(e) => Err(download_error(
                repo,
                format!("{file}: {e} (run again to resume)"),
                settings,
            )),
        }
    };
    let mut dir = None;
    for alternatives in wanted.required {
        let mut found = None;
        for file in *alternatives {
            if let Some(path) = get(file)? {
                found = Some((file, path));
                break;
            }
        }
        let Some((file, path)) = found else {
            let reason = if settings.offline {
                format!(
                    "HF_HUB_OFFLINE is set and the cache ({}) has none of {}",
                    settings.cache.display(),
                    alternatives.join(", ")
                )
            } else {
                format!("the repo has none of {}", alternatives.join(", "))
            };
            return Err(download_error(repo, reason, settings));
        };
        if file.ends_with(".safetensors.index.json") {
            for shard in shard_files(&path)? {
                if get(&shard)?.is_none() {
                    return Err(download_error(
                        repo,
                        format!("{file} names {shard}, which the repo does not have"),
                        settings,
                    ));
                }
            }
        }
        dir = path.parent().map(Path::to_path_buf);
    }
    for file in wanted.optional {
        get(file)?;
    }
    dir.ok_or_else(|| download_error(repo, "nothing to fetch".into(), settings))
}

/// The shard files a `model.safetensors.index.json` names, each once.
pub fn shard_files(index: &Path) -> Result<Vec<String>> {
    let bad = |reason: String| EmbedError::Weights {
        path: index.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(index).map_err(|e| bad(e.to_string()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("no weight_map".into()))?;
    let mut shards: Vec<String> = Vec::new();
    for value in map.values() {
        let shard = value
            .as_str()
            .filter(|s| !s.contains('/') && !s.contains("..") && s.ends_with(".safetensors"))
            .ok_or_else(|| bad(format!("bad shard name {value}")))?;
        if !shards.iter().any(|s| s == shard) {
            shards.push(shard.to_string());
        }
    }
    Ok(shards)
}

/// The HTTP status the hub answered with, when hf-hub's error is one (404: the file is not in the repo at
/// that revision; 401 or 403: access refused).
fn http_status(e: &hf_hub::api::sync::ApiError) -> Option<u16> {
    match e {
        hf_hub::api::sync::ApiError::RequestError(inner) => match **inner {
            ureq::Error::Status(code, _) => Some(code),
            _ => None,
        },
        _ => None,
    }
}

/// Checks a fetched file against the etag it is stored under (its blob's name); removes it from the
/// cache when it does not match, so no later run takes it as complete.
fn verify_download(pointer: &Path, file: &str) -> Result<()> {
    let blob = std::fs::canonicalize(pointer).map_err(|e| EmbedError::Weights {
        path: pointer.to_path_buf(),
        reason: e.to_string(),
    })?;
    let etag = blob
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(&blob).map_err(|e| EmbedError::Weights {
        path: blob.clone(),
        reason: e.to_string(),
    })?;
    let actual = match etag.len() {
        64 => hex(&Sha256::digest(&bytes)),
        40 => {
            let mut h = Sha1::new();
            h.update(format!("blob {}\0", bytes.len()).as_bytes());
            h.update(&bytes);
            hex(&h.finalize())
        }
        // Another kind of etag: nothing to check it against.
        _ => return Ok(()),
    };
    if actual != etag {
        let _ = std::fs::remove_file(pointer);
        let _ = std::fs::remove_file(&blob);
        return Err(EmbedError::Weights {
            path: pointer.to_path_buf(),
            reason: format!(
                "{file} arrived incomplete or altered ({} bytes, content hash {actual}, expected {etag}); it was removed from the cache, run again",
                bytes.len()
            ),
        });
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn download_error(repo: &HubRepo, reason: String, settings: &HubSettings) -> EmbedError {
    EmbedError::Download {
        what: format!("{repo} from {}", settings.endpoint),
        reason,
        hint: "Offline: download the repo on another machine (`huggingface-cli download OWNER/NAME`) and copy \
               it into the hub cache or pass its folder with `--model-dir PATH`; or use \
               `--model efficientnet-lite0` after `vsearch models fetch efficientnet-lite0`"
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> HubSettings {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubSettings::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn environment_variables_read_as_the_python_tools_read_them() {
        let s = settings(&[("HOME", "/home/u")]);
        assert_eq!(s.endpoint, "https://huggingface.co");
        assert_eq!(s.cache, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert!(!s.offline);
        let s = settings(&[
            ("HF_HOME", "/data/hf"),
            ("HF_ENDPOINT", "https://mirror.example/"),
            ("HF_HUB_OFFLINE", "TRUE"),
            ("HF_TOKEN", "hf_abc"),
        ]);
        assert_eq!(s.endpoint, "https://mirror.example");
        assert_eq!(s.cache, PathBuf::from("/data/hf/hub"));
        assert_eq!(s.token.as_deref(), Some("hf_abc"));
        assert!(s.offline);
        let s = settings(&[("HF_HOME", "/data/hf"), ("HF_HUB_CACHE", "/fast/hub")]);
        assert_eq!(s.cache, PathBuf::from("/fast/hub"));
        assert!(!settings(&[("HF_HUB_OFFLINE", "0")]).offline);
    }

    #[test]
    fn the_token_file_under_hf_home_is_read_when_hf_token_is_unset() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("token"), "hf_file\n").unwrap();
        let s = settings(&[("HF_HOME", home.path().to_str().unwrap())]);
        assert_eq!(s.token.as_deref(), Some("hf_file"));
    }

    #[test]
    fn repo_names_parse_with_and_without_a_revision() {
        let r = HubRepo::parse("openai/clip-vit-base-patch32@refs/pr/15").unwrap();
        assert_eq!(
            (r.repo.as_str(), r.revision.as_str()),
            ("openai/clip-vit-base-patch32", "refs/pr/15")
        );
        assert_eq!(HubRepo::parse("a/b").unwrap().revision, "main");
        for bad in ["", "a", "a/", "/b", "a/b@", "a b/c", "a/b/c"] {
            assert!(HubRepo::parse(bad).is_none(), "{bad}");
        }
    }
}
