//! Helpers shared by the CLI integration tests: the real `vsearch` binary, the ukbench-14 photos; the planted
//! duplicate set in its own module; the Qdrant server, allowed skips and the kernel record from
//! vsearch-testkit (shared with the crates' tests).

pub mod dupes_set;
pub use vsearch_testkit::{kernels, qdrant, skip};

use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The model every CLI test indexes with (its weights: `vsearch models fetch efficientnet-lite0`).
pub const MODEL: &str = "efficientnet-lite0";

/// The `vsearch` binary under test, logging warnings only.
pub fn vsearch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vsearch"));
    cmd.args(["--log", "warn"]);
    cmd
}

/// `../shared/data/ukbench-14` beside the checkout.
pub fn ukbench() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ukbench-14")
}

/// `sample_images/` of the checkout.
pub fn sample_images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_images")
}

/// The photos (JPEG and PNG files) directly inside `dir`, sorted by name.
pub fn photos_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("png"))
        })
        .collect();
    out.sort();
    out
}

/// Runs a command that must succeed; returns its output.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run vsearch");
    assert!(
        out.status.success(),
        "vsearch failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command that must fail; returns its stderr.
pub fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run vsearch");
    assert!(
        !out.status.success(),
        "vsearch succeeded but should have failed"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON a command printed on stdout.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// `vsearch index DIR --model MODEL [extra...]`, which must succeed.
pub fn index(dir: &Path, extra: &[&str]) -> Output {
    run_ok(
        vsearch()
            .arg("index")
            .arg(dir)
            .args(["--model", MODEL])
            .args(extra),
    )
}

/// A running `vsearch serve`, stopped when dropped.
pub struct Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// `POST /api/search` with the JSON `body`: the answer, asserted to be a 200.
    pub fn search(&self, body: Value) -> Value {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/api/search", self.base))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vsearch serve --collection DIR` on a free port (with `token` as its admin token), once it listens.
pub fn serve(dir: &Path, token: Option<&str>) -> Server {
    serve_with(&[OsStr::new("--collection"), dir.as_os_str()], token)
}

/// `vsearch serve ARGS` (what it serves: `--collection DIR`, or `--qdrant URL ...`) on a free port with
/// two workers (with `token` as its admin token), once it listens.
pub fn serve_with<S: AsRef<OsStr>>(args: &[S], token: Option<&str>) -> Server {
    let mut cmd = vsearch();
    cmd.arg("serve")
        .args(args)
        .args(["--addr", "127.0.0.1:0", "--workers", "2"])
        .env_remove("VSEARCH_ADMIN_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(t) = token {
        cmd.args(["--admin-token", t]);
    }
    let mut child = cmd.spawn().expect("start vsearch serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let base = loop {
        let line = lines
            .next()
            .expect("vsearch serve ended before it listened")
            .expect("read stdout");
        if let Some(rest) = line.split("serving at ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .expect("address")
                .trim_end_matches('/')
                .to_string();
        }
    };
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Server { child, base }
}

/// The arguments that name Qdrant collection `collection` at `url`, whose images are under `root`.
pub fn qdrant_args(url: &str, collection: &str, root: &Path) -> Vec<String> {
    vec![
        "--qdrant".into(),
        url.into(),
        "--qdrant-collection".into(),
        collection.into(),
        "--root".into(),
        root.display().to_string(),
    ]
}

/// `vsearch index DIR --check --json`: the consistency report (whatever the exit code).
pub fn check_report(dir: &Path) -> Value {
    json(
        &vsearch()
            .arg("index")
            .arg(dir)
            .args(["--check", "--json"])
            .output()
            .expect("run vsearch index --check"),
    )
}

/// No temporary folder or file of a failed run, no generation but the committed one, and no matrix rows
/// past the catalog's committed ones (`report`: the collection's `--check --json`).
pub fn assert_nothing_left_over(coll: &Path, report: &Value, what: &str) {
    let committed: serde_json::Value = serde_json::from_slice(
        &std::fs::read(coll.join("indexes/state.json")).expect("commit point"),
    )
    .expect("commit point JSON");
    let folder = committed["folder"].as_str().expect("a committed folder");
    for entry in walk(coll) {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        assert!(
            !name.starts_with(".index-tmp-")
                && !name.starts_with(".tmp-")
                && !name.contains(".old-"),
            "{what}: left over: {}",
            entry.display()
        );
        if name.starts_with("gen-") {
            assert_eq!(
                name,
                folder,
                "{what}: an uncommitted generation is left: {}",
                entry.display()
            );
        }
    }
    let rows = report["matrix_rows"].as_u64().expect("matrix rows");
    let dim = 1280; // EfficientNet-Lite0
    let size = |name: &str| {
        std::fs::metadata(coll.join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    assert_eq!(
        size("embeddings.f32"),
        rows * dim * 4,
        "{what}: matrix rows past the committed ones"
    );
    assert_eq!(
        size("embeddings.ids"),
        rows * 8,
        "{what}: matrix ids past the committed ones"
    );
}

/// Every file and folder under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            }
            out.push(path);
        }
    }
    out
}

/// Writes `count` distinct photos into `pool`: every source photo, then variants of them (half size,
/// a centre crop, a horizontal flip) until there are enough. Returns their paths.
pub fn write_photo_variants(pool: &Path, count: usize) -> Vec<PathBuf> {
    let mut sources = photos_in(&ukbench());
    sources.extend(photos_in(&sample_images()));
    let images: Vec<image::DynamicImage> = sources
        .iter()
        .map(|p| {
            // Sources at most 640 px wide keep the test quick.
            let img = image::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            img.resize(640, 640, image::imageops::FilterType::Triangle)
        })
        .collect();
    let mut out = Vec::new();
    'outer: for variant in 0.. {
        for (i, img) in images.iter().enumerate() {
            if out.len() == count {
                break 'outer;
            }
            let (w, h) = (img.width(), img.height());
            let photo = match variant {
                0 => img.clone(),
                1 => img.resize(w / 2, h / 2, image::imageops::FilterType::Triangle),
                2 => img.crop_imm(w / 8, h / 8, w * 3 / 4, h * 3 / 4),
                _ => img.fliph(),
            };
            let path = pool.join(format!("p{variant}-{i:03}.jpg"));
            photo
                .to_rgb8()
                .save(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push(path);
        }
    }
    out
}

/// Options for indexing with the engine API directly: EfficientNet-Lite0 on the CPU, two decoding
/// threads, the default indexes (HNSW, IVF, exact).
pub fn engine_options() -> vsearch_engine::IndexOptions {
    vsearch_engine::IndexOptions {
        model: vsearch_engine::ModelSpec::Preset(MODEL.to_string()),
        threads: 2,
        ..vsearch_engine::IndexOptions::default()
    }
}

/// EXIF fields a test writes into a JPEG.
#[derive(Debug, Clone, Default)]
pub struct ExifSpec {
    /// `DateTimeOriginal`, EXIF style: `2024:06:01 12:00:00`.
    pub date: Option<&'static str>,
    /// `OffsetTimeOriginal`: `+02:00`.
    pub offset: Option<&'static str>,
    pub make: Option<&'static str>,
    pub model: Option<&'static str>,
    /// Latitude and longitude, decimal degrees (south and west negative).
    pub gps: Option<(f64, f64)>,
}

/// The ukbench photo `index` (0..56), scaled to at most `side` pixels.
pub fn ukbench_photo(index: usize, side: u32) -> image::DynamicImage {
    let path = ukbench().join(format!("ukbench{index:05}.jpg"));
    let img = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    img.resize(side, side, image::imageops::FilterType::Triangle)
}

/// Writes `img` at `path` (format from the extension), creating its folder, then the EXIF of `exif`
/// (JPEG only) with `little_exif`.
pub fn write_photo(path: &Path, img: &image::DynamicImage, exif: Option<&ExifSpec>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    img.to_rgb8()
        .save(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Some(spec) = exif {
        write_exif(path, spec);
    }
}

/// Writes the EXIF fields of `spec` into the JPEG at `path`.
pub fn write_exif(path: &Path, spec: &ExifSpec) {
    use little_exif::exif_tag::ExifTag;
    use little_exif::rational::uR64;
    let mut meta = little_exif::metadata::Metadata::new();
    if let Some(d) = spec.date {
        meta.set_tag(ExifTag::DateTimeOriginal(d.to_string()));
    }
    if let Some(o) = spec.offset {
        meta.set_tag(ExifTag::OffsetTimeOriginal(o.to_string()));
    }
    if let Some(m) = spec.make {
        meta.set_tag(ExifTag::Make(m.to_string()));
    }
    if let Some(m) = spec.model {
        meta.set_tag(ExifTag::Model(m.to_string()));
    }
    if let Some((lat, lon)) = spec.gps {
        // Degrees, minutes, seconds (hundredths) as rationals.
        let dms = |v: f64| {
            let v = v.abs();
            let deg = v.floor();
            let min = ((v - deg) * 60.0).floor();
            let sec = ((v - deg) * 60.0 - min) * 60.0;
            vec![
                uR64 {
                    nominator: deg as u32,
                    denominator: 1,
                },
                uR64 {
                    nominator: min as u32,
                    denominator: 1,
                },
                uR64 {
                    nominator: (sec * 100.0).round() as u32,
                    denominator: 100,
                },
            ]
        };
        let ns = if lat < 0.0 { "S" } else { "N" };
        let ew = if lon < 0.0 { "W" } else { "E" };
        meta.set_tag(ExifTag::GPSLatitudeRef(ns.to_string()));
        meta.set_tag(ExifTag::GPSLatitude(dms(lat)));
        meta.set_tag(ExifTag::GPSLongitudeRef(ew.to_string()));
        meta.set_tag(ExifTag::GPSLongitude(dms(lon)));
    }
    let mut bytes = std::fs::read(path).expect("read");
    meta.write_to_vec(&mut bytes, little_exif::filetype::FileExtension::JPEG)
        .unwrap_or_else(|e| panic!("{}: writing EXIF: {e}", path.display()));
    std::fs::write(path, bytes).expect("write");
}

/// Sets the modification time of `path` to `secs` seconds after the Unix epoch.
pub fn set_mtime(path: &Path, secs: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .expect("set mtime");
}

/// The tiny CLIP fixture (`tests/fixtures/clip-tiny`, made with transformers) as a normal Hugging Face CLIP
/// folder under `dir` (tokenizer.json unpacked), for `--model-dir`.
pub fn clip_fixture_folder(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip-tiny");
    let out = dir.join("clip");
    std::fs::create_dir_all(&out).expect("mkdir");
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        std::fs::copy(fixture.join(f), out.join(f)).expect("copy fixture");
    }
    let gz = std::fs::File::open(fixture.join("tokenizer.json.gz")).expect("fixture");
    let mut tokenizer = std::fs::File::create(out.join("tokenizer.json")).expect("create");
    std::io::copy(&mut flate2::read::GzDecoder::new(gz), &mut tokenizer).expect("gunzip");
    out
}
