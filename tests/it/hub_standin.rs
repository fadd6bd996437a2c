//! The download path against a stand-in of the Hugging Face hub (issue: hub models). A small HTTP server
//! on 127.0.0.1 speaks the `/{repo}/resolve/{revision}/{file}` protocol with the headers hf-hub reads
//! (`ETag` / `X-Linked-Etag`, `X-Repo-Commit`, `Content-Range` on ranged requests, 404 for a missing
//! file) and serves the tiny CLIP fixture (`tests/fixtures/clip-tiny`, made with transformers by
//! `scripts/make_clip_fixture.py`) in several layouts; `vsearch` reaches it through `HF_ENDPOINT`, with
//! a fresh `HF_HOME` per case. Every model that loads must give the fixture's transformers text
//! embedding (1e-4), whatever the layout it came in.

use crate::common::*;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

const COMMIT_MAIN: &str = "1111111111111111111111111111111111111111";
const COMMIT_PR: &str = "2222222222222222222222222222222222222222";
/// Files above this are "LFS" files: their etag is their SHA-256 (as on the hub).
const LFS_ABOVE: usize = 10_000;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip-tiny")
}

fn siglip_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/siglip-tiny")
}

/// The SigLIP fixture's files, as a hub repo holds them (no tokenizer.json, like google's).
fn siglip_files() -> Files {
    [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "spiece.model",
        "tokenizer_config.json",
    ]
    .iter()
    .map(|f| {
        let bytes = std::fs::read(siglip_fixture().join(f)).expect("fixture");
        (f.to_string(), bytes)
    })
    .collect()
}

/// `tokenizer.json` replaced by the `vocab.json` + `merges.txt` it was built from.
fn vocab_and_merges(files: &mut Files) {
    let json: Value =
        serde_json::from_slice(&files.remove("tokenizer.json").expect("tokenizer")).expect("json");
    files.insert(
        "vocab.json".into(),
        serde_json::to_vec(&json["model"]["vocab"]).expect("vocab"),
    );
    let mut merges = String::from("#version: 0.2\n");
    for m in json["model"]["merges"].as_array().expect("merges") {
        let line = match m {
            Value::String(s) => s.clone(),
            Value::Array(pair) => format!(
                "{} {}",
                pair[0].as_str().expect("left"),
                pair[1].as_str().expect("right")
            ),
            other => panic!("merge {other}"),
        };
        merges.push_str(&line);
        merges.push('\n');
    }
    files.insert("merges.txt".into(), merges.into_bytes());
}

/// The fixture's files, as a hub repo holds them (tokenizer.json unpacked).
fn fixture_files() -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        files.insert(
            f.to_string(),
            std::fs::read(fixture().join(f)).expect("fixture"),
        );
    }
    let gz = std::fs::File::open(fixture().join("tokenizer.json.gz")).expect("fixture");
    let mut tokenizer = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut tokenizer)
        .expect("gunzip");
    files.insert("tokenizer.json".into(), tokenizer);
    files
}

/// `model.safetensors` split into two shards and their `model.safetensors.index.json`.
fn sharded(files: &mut HashMap<String, Vec<u8>>) {
    let whole = files.remove("model.safetensors").expect("weights");
    let tensors = safetensors::SafeTensors::deserialize(&whole).expect("safetensors");
    let mut names: Vec<String> = tensors.names().into_iter().map(str::to_string).collect();
    names.sort();
    let half = names.len() / 2;
    let mut weight_map = serde_json::Map::new();
    for (i, part) in [&names[..half], &names[half..]].iter().enumerate() {
        let shard = format!("model-0000{}-of-00002.safetensors", i + 1);
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = part
            .iter()
            .map(|n| (n.clone(), tensors.tensor(n).expect("tensor")))
            .collect();
        let bytes = safetensors::serialize(views, None).expect("serialize");
        for n in part.iter() {
            weight_map.insert(n.clone(), Value::String(shard.clone()));
        }
        files.insert(shard, bytes);
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    files.insert(
        "model.safetensors.index.json".into(),
        serde_json::to_vec(&index).expect("json"),
    );
}

/// How the stand-in misbehaves on a file's first full download.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Sends half the bytes of a response with the full Content-Length, then closes.
    DropMidFile,
    /// Sends half the bytes without a Content-Length, then closes (looks complete to a client).
    TruncateSilently,
}

/// A repo's files by name.
type Files = HashMap<String, Vec<u8>>;

#[derive(Default)]
struct Hub {
    /// (repo, revision) -> (commit, files).
    repos: HashMap<(String, String), (String, Files)>,
    /// File name -> fault on its first full download.
    faults: HashMap<String, Fault>,
    /// Requests answered, for the offline case.
    requests: usize,
    /// Private repos and the token each needs (`Authorization: Bearer TOKEN`).
    tokens: HashMap<String, String>,
    /// Repos whose large files are served as the hub serves LFS files: a 302 to another URL (here
    /// `/cdn/...` on the same server) carrying `X-Linked-Etag`, `X-Linked-Size` and `X-Repo-Commit`.
    redirect_lfs: Vec<String>,
    /// The stand-in's own address, for absolute redirects.
    base: String,
    /// Redirects answered.
    redirects: usize,
}

struct StandIn {
    url: String,
    hub: Arc<Mutex<Hub>>,
}

impl StandIn {
    fn start(hub: Hub) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hub = Arc::new(Mutex::new(Hub {
            base: url.clone(),
            ..hub
        }));
        let shared = hub.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let hub = shared.clone();
                std::thread::spawn(move || serve(stream, &hub));
            }
        });
        Self { url, hub }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn etag(bytes: &[u8]) -> String {
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    if bytes.len() > LFS_ABOVE {
        hex(&Sha256::digest(bytes))
    } else {
        let mut h = Sha1::new();
        h.update(format!("blob {}\0", bytes.len()).as_bytes());
        h.update(bytes);
        hex(&h.finalize())
    }
}

/// Answers the requests of one connection (keep-alive) until it closes.
fn serve(stream: TcpStream, hub: &Mutex<Hub>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut range = None;
        let mut authorization = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("range") {
                    range = v.trim().strip_prefix("bytes=").map(str::to_string);
                }
                if k.eq_ignore_ascii_case("authorization") {
                    authorization = Some(v.trim().to_string());
                }
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        let head = request_line.starts_with("HEAD");
        // /{owner}/{name}/resolve/{revision}/{file}, or /cdn/{owner}/{name}/{revision}/{file} (where an
        // LFS redirect points).
        let parts: Vec<&str> = path.trim_start_matches('/').splitn(6, '/').collect();
        let mut hub = hub.lock().expect("lock");
        hub.requests += 1;
        let (owner, name, revision, file, via_cdn) = match parts.as_slice() {
            [owner, name, "resolve", revision, file] => (*owner, *name, *revision, *file, false),
            ["cdn", owner, name, revision, file] => (*owner, *name, *revision, *file, true),
            _ => ("", "", "", "", false),
        };
        let repo_name = format!("{owner}/{name}");
        if let Some(token) = hub.tokens.get(&repo_name) {
            if !via_cdn && authorization.as_deref() != Some(&format!("Bearer {token}")) {
                let _ = write!(
                    out,
                    "HTTP/1.1 401 Unauthorized\r\nX-Error-Code: RepoNotFound\r\nContent-Length: 0\r\n\r\n"
                );
                continue;
            }
        }
        let key = (repo_name.clone(), percent_decode(revision));
        let found = hub.repos.get(&key).and_then(|(commit, files)| {
            files
                .get(&percent_decode(file))
                .map(|b| (commit.clone(), percent_decode(file), b.clone()))
        });
        if let Some((commit, _, bytes)) = &found {
            if !via_cdn && bytes.len() > LFS_ABOVE && hub.redirect_lfs.contains(&repo_name) {
                let tag = etag(bytes);
                hub.redirects += 1;
                let _ = write!(
                    out,
                    "HTTP/1.1 302 Found\r\nLocation: {}/cdn/{owner}/{name}/{revision}/{file}\r\nX-Repo-Commit: {commit}\r\nX-Linked-Etag: \"{tag}\"\r\nX-Linked-Size: {}\r\nETag: \"{tag}\"\r\nContent-Length: 0\r\n\r\n",
                    hub.base,
                    bytes.len()
                );
                continue;
            }
        }
        let Some((commit, file, bytes)) = found else {
            let body = b"Entry not found";
            let _ = write!(
                out,
                "HTTP/1.1 404 Not Found\r\nX-Error-Code: EntryNotFound\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(body);
            continue;
        };
        let len = bytes.len();
        let (start, end) = match range.as_deref().and_then(|r| r.split_once('-')) {
            Some((a, b)) => {
                let a: usize = a.parse().unwrap_or(0);
                let b: usize = b.parse().unwrap_or(len.saturating_sub(1));
                (a.min(len), b.min(len.saturating_sub(1)))
            }
            None => (0, len.saturating_sub(1)),
        };
        let body = if len == 0 {
            &[][..]
        } else {
            &bytes[start..=end]
        };
        let tag = etag(&bytes);
        let mut headers = format!(
            "HTTP/1.1 206 Partial Content\r\nX-Repo-Commit: {commit}\r\nETag: \"{tag}\"\r\nContent-Range: bytes {start}-{end}/{len}\r\n"
        );
        if len > LFS_ABOVE {
            headers.push_str(&format!("X-Linked-Etag: \"{tag}\"\r\n"));
        }
        let full_download = !head && body.len() > 1 && start == 0;
        let fault = if full_download {
            hub.faults.remove(&file)
        } else {
            None
        };
        drop(hub);
        match fault {
            Some(Fault::DropMidFile) => {
                let _ = write!(out, "{headers}Content-Length: {}\r\n\r\n", body.len());
                let _ = out.write_all(&body[..body.len() / 2]);
                return;
            }
            Some(Fault::TruncateSilently) => {
                let _ = write!(out, "{headers}Connection: close\r\n\r\n");
                let _ = out.write_all(&body[..body.len() / 2]);
                return;
            }
            None => {
                let _ = write!(out, "{headers}Content-Length: {}\r\n\r\n", body.len());
                if !head {
                    let _ = out.write_all(body);
                }
            }
        }
    }
}

/// `vsearch embed --model MODEL --text "a photo of a cat"` against `hub_url`, with `HF_HOME` = `hf_home`.
fn embed_text(model: &str, hub_url: &str, hf_home: &Path, extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = vsearch();
    cmd.args(["embed", "--model", model, "--text", "a photo of a cat"])
        .env("HF_ENDPOINT", hub_url)
        .env("HF_HOME", hf_home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("run vsearch embed")
}

/// The transformers text embedding of "a photo of a cat" (the fixture's first string), normalised.
fn reference_cat() -> Vec<f32> {
    first_row(&fixture())
}

/// The first row of `text_embeds` in the reference file of the fixture `dir`, normalised.
fn first_row(dir: &Path) -> Vec<f32> {
    let bytes = std::fs::read(dir.join("reference.safetensors")).expect("reference");
    let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let t = tensors.tensor("text_embeds").expect("text_embeds");
    let dim = t.shape()[1];
    let row: Vec<f32> = t.data()[..dim * 4]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
    row.iter().map(|x| x / norm).collect()
}

/// Asserts the run succeeded with the CLIP fixture's reference embedding.
fn assert_reference(out: &Output, case: &str) {
    assert_embedding(out, case, &reference_cat());
}

/// Asserts the run succeeded with embedding `want`.
fn assert_embedding(out: &Output, case: &str, want: &[f32]) {
    assert!(
        out.status.success(),
        "{case}: vsearch failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).expect("json line");
    let got: Vec<f32> = line["vector"]
        .as_array()
        .expect("vector")
        .iter()
        .map(|v| v.as_f64().expect("number") as f32)
        .collect();
    let diff = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert_eq!(got.len(), want.len(), "{case}");
    assert!(diff <= 1e-4, "{case}: max abs difference {diff}");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn repo(hub: &mut Hub, name: &str, revision: &str, commit: &str, files: HashMap<String, Vec<u8>>) {
    hub.repos.insert(
        (name.to_string(), revision.to_string()),
        (commit.to_string(), files),
    );
}

#[test]
fn hub_layouts_revisions_faults_and_offline_mode() {
    let mut hub = Hub::default();
    let all = fixture_files();
    // 1. safetensors on main.
    repo(&mut hub, "test/clip-main", "main", COMMIT_MAIN, all.clone());
    // 2. safetensors only on a pull-request revision (as openai/clip-vit-base-patch32 at refs/pr/15).
    let mut no_weights = all.clone();
    no_weights.remove("model.safetensors");
    repo(
        &mut hub,
        "test/clip-pr",
        "main",
        COMMIT_MAIN,
        no_weights.clone(),
    );
    repo(
        &mut hub,
        "test/clip-pr",
        "refs/pr/15",
        COMMIT_PR,
        all.clone(),
    );
    // 3. sharded safetensors.
    let mut shards = all.clone();
    sharded(&mut shards);
    repo(&mut hub, "test/clip-sharded", "main", COMMIT_MAIN, shards);
    // 4. no tokenizer.
    let mut no_tokenizer = all.clone();
    no_tokenizer.remove("tokenizer.json");
    repo(
        &mut hub,
        "test/clip-no-tokenizer",
        "main",
        COMMIT_MAIN,
        no_tokenizer,
    );
    // 5, 6. a connection dropped mid-file; a response cut short that looks complete.
    repo(&mut hub, "test/clip-drop", "main", COMMIT_MAIN, all.clone());
    let mut renamed = all.clone();
    let weights = renamed.remove("model.safetensors").expect("weights");
    renamed.insert("model.safetensors".into(), weights);
    repo(&mut hub, "test/clip-truncate", "main", COMMIT_PR, renamed);
    // pytorch_model.bin only (converted once to safetensors); vocab.json + merges.txt, no tokenizer.json.
    let mut bin_only = all.clone();
    bin_only.remove("model.safetensors");
    bin_only.insert(
        "pytorch_model.bin".into(),
        std::fs::read(fixture().join("pytorch_model.bin")).expect("fixture"),
    );
    repo(&mut hub, "test/clip-bin", "main", COMMIT_MAIN, bin_only);
    let mut bpe = all.clone();
    vocab_and_merges(&mut bpe);
    repo(&mut hub, "test/clip-bpe", "main", COMMIT_MAIN, bpe);
    // A private repo (needs HF_TOKEN) whose LFS files are redirected, as the hub does.
    repo(
        &mut hub,
        "test/clip-private",
        "main",
        COMMIT_MAIN,
        all.clone(),
    );
    hub.tokens
        .insert("test/clip-private".into(), "hf_secret".into());
    hub.redirect_lfs.push("test/clip-private".into());
    // SigLIP, by name and as the preset.
    repo(
        &mut hub,
        "test/siglip-tiny",
        "main",
        COMMIT_MAIN,
        siglip_files(),
    );
    repo(
        &mut hub,
        "google/siglip-base-patch16-224",
        "main",
        COMMIT_MAIN,
        siglip_files(),
    );
    // 7. the preset clip-vit-b32 at its pinned revision.
    repo(
        &mut hub,
        "openai/clip-vit-base-patch32",
        "main",
        COMMIT_MAIN,
        no_weights,
    );
    repo(
        &mut hub,
        "openai/clip-vit-base-patch32",
        "refs/pr/15",
        COMMIT_PR,
        all,
    );
    let standin = StandIn::start(hub);
    let url = standin.url.clone();
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = |case: &str| tmp.path().join(case);

    let out = embed_text("hf:test/clip-main", &url, &home("main"), &[]);
    assert_reference(&out, "safetensors on main");

    let out = embed_text("hf:test/clip-pr", &url, &home("pr-main"), &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("model.safetensors") && err.contains("pytorch_model.bin"),
        "a repo without weights names what it looked for: {err}"
    );
    let out = embed_text("hf:test/clip-pr@refs/pr/15", &url, &home("pr"), &[]);
    assert_reference(&out, "safetensors on refs/pr/15");

    let out = embed_text("hf:test/clip-sharded", &url, &home("sharded"), &[]);
    assert_reference(&out, "sharded safetensors");

    let converted = tmp.path().join("vsearch-cache");
    let vs_cache = [("VSEARCH_CACHE", converted.to_str().expect("utf-8"))];
    let out = embed_text("hf:test/clip-bin", &url, &home("bin"), &vs_cache);
    assert_reference(&out, "pytorch_model.bin only");
    assert!(
        std::fs::read_dir(converted.join("converted"))
            .expect("converted folder")
            .any(|e| e
                .expect("entry")
                .path()
                .extension()
                .is_some_and(|x| x == "safetensors")),
        "the .bin was converted into vsearch's cache"
    );
    // A second load uses the converted file.
    let out = embed_text("hf:test/clip-bin", &url, &home("bin"), &vs_cache);
    assert_reference(&out, "pytorch_model.bin, converted before");

    let out = embed_text("hf:test/clip-bpe", &url, &home("bpe"), &[]);
    assert_reference(&out, "vocab.json + merges.txt");

    let out = embed_text("hf:test/clip-private", &url, &home("private-no-token"), &[]);
    assert!(
        !out.status.success(),
        "a private repo without a token must fail"
    );
    assert!(stderr(&out).contains("HF_TOKEN"), "{}", stderr(&out));
    let token = [("HF_TOKEN", "hf_secret")];
    let out = embed_text("hf:test/clip-private", &url, &home("private"), &token);
    assert_reference(&out, "a private repo with HF_TOKEN, LFS files redirected");
    assert!(
        standin.hub.lock().expect("lock").redirects >= 2,
        "metadata and download were redirected"
    );

    let siglip_cat = first_row(&siglip_fixture());
    let out = embed_text("hf:test/siglip-tiny", &url, &home("siglip"), &[]);
    assert_embedding(&out, "SigLIP by name", &siglip_cat);
    let out = embed_text("siglip-base-p16-224", &url, &home("siglip-preset"), &[]);
    assert_embedding(&out, "the SigLIP preset", &siglip_cat);

    let out = embed_text("hf:test/clip-no-tokenizer", &url, &home("no-tok"), &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("tokenizer.json"), "{}", stderr(&out));

    // A dropped connection fails the run with advice; the next run resumes and loads.
    standin
        .hub
        .lock()
        .expect("lock")
        .faults
        .insert("model.safetensors".into(), Fault::DropMidFile);
    let out = embed_text("hf:test/clip-drop", &url, &home("drop"), &[]);
    assert!(!out.status.success(), "a dropped download must fail");
    assert!(stderr(&out).contains("run again"), "{}", stderr(&out));
    let out = embed_text("hf:test/clip-drop", &url, &home("drop"), &[]);
    assert_reference(&out, "after a dropped connection");

    // A response cut short that looks complete is caught by its etag and removed from the cache.
    standin
        .hub
        .lock()
        .expect("lock")
        .faults
        .insert("model.safetensors".into(), Fault::TruncateSilently);
    let out = embed_text("hf:test/clip-truncate", &url, &home("truncate"), &[]);
    assert!(!out.status.success(), "a truncated download must fail");
    assert!(stderr(&out).contains("incomplete"), "{}", stderr(&out));
    let out = embed_text("hf:test/clip-truncate", &url, &home("truncate"), &[]);
    assert_reference(&out, "after a truncated response");

    // Offline: a warm cache loads without a request; a cold one is a clear error.
    let before = standin.hub.lock().expect("lock").requests;
    let offline = [("HF_HUB_OFFLINE", "1")];
    let out = embed_text("hf:test/clip-main", &url, &home("main"), &offline);
    assert_reference(&out, "offline with a warm cache");
    assert_eq!(
        standin.hub.lock().expect("lock").requests,
        before,
        "offline made requests"
    );
    let out = embed_text("hf:test/clip-main", &url, &home("cold"), &offline);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("HF_HUB_OFFLINE"), "{}", stderr(&out));

    // HF_HUB_CACHE moves the cache.
    let cache = tmp.path().join("elsewhere");
    let out = embed_text(
        "hf:test/clip-main",
        &url,
        &home("moved"),
        &[("HF_HUB_CACHE", cache.to_str().expect("utf-8"))],
    );
    assert_reference(&out, "HF_HUB_CACHE");
    assert!(cache.join("models--test--clip-main").is_dir());

    // The preset at its pinned revision: fetched, listed as cached, loaded by name and by auto.
    let preset_home = home("preset");
    let out = run_ok(
        vsearch()
            .args(["models", "fetch", "clip-vit-b32"])
            .env("HF_ENDPOINT", &url)
            .env("HF_HOME", &preset_home),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("clip-vit-b32"));
    let out = run_ok(
        vsearch()
            .args(["models", "list"])
            .env("HF_ENDPOINT", &url)
            .env("HF_HOME", &preset_home),
    );
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = listing
        .lines()
        .find(|l| l.starts_with("clip-vit-b32"))
        .expect("listed");
    assert!(
        line.contains("yes") && line.contains("refs/pr/15"),
        "{line}"
    );
    let out = embed_text("clip-vit-b32", &url, &preset_home, &[]);
    assert_reference(&out, "the clip-vit-b32 preset");
    let out = embed_text("auto", &url, &preset_home, &[]);
    assert_reference(&out, "auto");
}

#[test]
fn auto_without_clip_warns_loudly_and_names_the_fix() {
    // A hub that has nothing: auto falls back to Lite0 and says what text search needs.
    let standin = StandIn::start(Hub::default());
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = vsearch()
        .args(["embed", "--model", "auto"])
        .arg(sample_images().join("chelsea.png"))
        .env("HF_ENDPOINT", &standin.url)
        .env("HF_HOME", tmp.path())
        .output()
        .expect("run vsearch embed");
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("WARN"), "{err}");
    assert!(err.contains("NO TEXT SEARCH"), "{err}");
    assert!(err.contains("vsearch models fetch clip-vit-b32"), "{err}");
    assert!(err.contains("--model-dir"), "{err}");
    let line: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(line["model"], "efficientnet-lite0");
}
