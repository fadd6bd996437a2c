//! CLIP numerics against transformers: a small random `CLIPModel` (tests/fixtures/clip-tiny, made by
//! scripts/make_clip_fixture.py) loaded through `registry::load` like any user folder.

use candle_core::{DType, Device, Tensor};
use std::path::{Path, PathBuf};
use vsearch_embed::clip::{ClipModel, ClipTokenizer};
use vsearch_embed::{image_io, load, DeviceSpec, Embedder, ModelSpec, Pixels, Precision};

/// Features and logits must match transformers (f32) within this.
const FEATURE_TOLERANCE: f32 = 1e-4;
/// Mean absolute difference allowed between our pixels and `CLIPImageProcessor`'s (PIL bicubic rounding).
const PIXEL_MEAN_ABS_TOLERANCE: f32 = 0.01;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture() -> PathBuf {
    workspace().join("tests/fixtures/clip-tiny")
}

/// Writes a normal Hugging Face CLIP folder (tokenizer.json unpacked) into a temporary directory.
pub(crate) fn hf_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        std::fs::copy(fixture().join(f), dir.path().join(f)).unwrap();
    }
    let gz = std::fs::File::open(fixture().join("tokenizer.json.gz")).unwrap();
    let mut out = std::fs::File::create(dir.path().join("tokenizer.json")).unwrap();
    std::io::copy(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
    dir
}

fn reference() -> std::collections::HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture().join("reference.safetensors"), &Device::Cpu).unwrap()
}

fn reference_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("reference.json")).unwrap())
        .unwrap()
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_dtype(DType::F32).unwrap().to_vec2::<f32>().unwrap()
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

fn pixels_of(t: &Tensor) -> Vec<Pixels> {
    let (b, _, h, w) = t.dims4().unwrap();
    (0..b)
        .map(|i| Pixels {
            data: t
                .get(i)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap(),
            height: h,
            width: w,
        })
        .collect()
}

pub(crate) fn load_fixture(dir: &Path) -> Embedder {
    load(&ModelSpec::Dir(dir.to_path_buf()), &DeviceSpec::Cpu).unwrap()
}

#[test]
fn image_features_match_transformers() {
    let dir = hf_folder();
    let model = load_fixture(dir.path());
    assert_eq!(model.info.dim, 16);
    assert!(model.info.text);
    let r = reference();
    let ours = model
        .image
        .embed_pixels(&pixels_of(&r["fixed_pixels"]))
        .unwrap();
    let diff = max_abs_diff(&ours, &rows(&r["image_embeds"]));
    assert!(diff < FEATURE_TOLERANCE, "image embeds differ by {diff}");

    // Unnormalised projected features too.
    let clip = ClipModel::load(dir.path(), &Device::Cpu, Precision::F32).unwrap();
    let px = r["fixed_pixels"].to_dtype(DType::F32).unwrap();
    let feats = rows(&clip.image_features(&px).unwrap());
    let diff = max_abs_diff(&feats, &rows(&r["image_features"]));
    assert!(diff < FEATURE_TOLERANCE, "image features differ by {diff}");
}

#[test]
fn text_features_and_logits_match_transformers() {
    let dir = hf_folder();
    let model = load_fixture(dir.path());
    let r = reference();
    let j = reference_json();
    let strings: Vec<&str> = j["fixed_strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    // Through the user path: strings in, normalised vectors out.
    let text = model.embed_texts(&strings).unwrap();
    let diff = max_abs_diff(&text, &rows(&r["text_embeds"]));
    assert!(diff < FEATURE_TOLERANCE, "text embeds differ by {diff}");

    // From the reference's own padded id batch (padding must not change the pooled features).
    let clip = ClipModel::load(dir.path(), &Device::Cpu, Precision::F32).unwrap();
    let ids = r["fixed_input_ids"]
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec2::<u32>()
        .unwrap();
    let feats = rows(&clip.text_features(&ids).unwrap());
    let diff = max_abs_diff(&feats, &rows(&r["text_features"]));
    assert!(diff < FEATURE_TOLERANCE, "text features differ by {diff}");

    // logits_per_image = exp(logit_scale) * image . text
    let images = model
        .image
        .embed_pixels(&pixels_of(&r["fixed_pixels"]))
        .unwrap();
    let scale = clip.logit_scale().exp();
    let logits: Vec<Vec<f32>> = images
        .iter()
        .map(|im| {
            text.iter()
                .map(|t| scale * im.iter().zip(t).map(|(a, b)| a * b).sum::<f32>())
                .collect()
        })
        .collect();
    let want = rows(&r["logits_per_image"]);
    let diff = max_abs_diff(&logits, &want);
    // Logits are scaled by exp(logit_scale) (~14.3): compare relative to that scale.
    assert!(
        diff / scale < FEATURE_TOLERANCE,
        "logits differ by {diff} (scale {scale})"
    );
}

/// Replaces the folder's `tokenizer.json` by the `vocab.json` + `merges.txt` it was built from.
fn to_vocab_and_merges(dir: &Path) {
    let path = dir.join("tokenizer.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    std::fs::write(dir.join("vocab.json"), json["model"]["vocab"].to_string()).unwrap();
    let mut merges = String::from("#version: 0.2\n");
    for m in json["model"]["merges"].as_array().unwrap() {
        match m {
            serde_json::Value::String(s) => merges.push_str(s),
            other => merges.push_str(&format!(
                "{} {}",
                other[0].as_str().unwrap(),
                other[1].as_str().unwrap()
            )),
        }
        merges.push('\n');
    }
    std::fs::write(dir.join("merges.txt"), merges).unwrap();
    std::fs::remove_file(path).unwrap();
}

/// vsearch's CLIP ids equal OpenAI's (its tokenizer's algorithm, run by scripts/clip_openai_ids.py with no
/// tokenizer library: independent of the `tokenizers` library vsearch uses) on the fixture's strings and on
/// text OpenAI's cleaning changes; and transformers' CLIPTokenizer ids wherever those equal OpenAI's.
#[test]
fn tokenizer_ids_equal_openai_and_transformers() {
    let dir = hf_folder();
    let from_json = ClipTokenizer::from_file(&dir.path().join("tokenizer.json"), 77).unwrap();
    to_vocab_and_merges(dir.path());
    let from_bpe_files = ClipTokenizer::from_dir(dir.path(), 77).unwrap();
    for tok in [from_json, from_bpe_files] {
        check_reference_ids(&tok);
    }
}

fn id_lists(v: &serde_json::Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|ids| {
            ids.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

fn check_reference_ids(tok: &ClipTokenizer) {
    let j = reference_json();
    let strings: Vec<&str> = j["openai_strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let openai = id_lists(&j["openai_ids"]);
    let transformers = id_lists(&j["ids"]);
    assert!(strings.len() >= 25 && openai.len() == strings.len());
    let mut long_seen = false;
    let mut transformers_differs = Vec::new();
    for (i, (s, want)) in strings.iter().zip(&openai).enumerate() {
        let got = tok.encode(s).unwrap();
        assert_eq!(&got, want, "ids differ from OpenAI's for {s:?}");
        assert!(got.len() <= 77);
        assert_eq!(*got.last().unwrap(), tok.eos_id());
        long_seen |= got.len() == 77;
        match transformers.get(i) {
            Some(hf) if hf == want => assert_eq!(&got, hf),
            Some(_) => transformers_differs.push(*s),
            None => {}
        }
    }
    assert!(long_seen, "a string longer than 77 tokens is in the set");
    // transformers' fast CLIPTokenizer skips OpenAI's ftfy cleaning: it differs on the ligature only.
    assert_eq!(transformers_differs, ["ﬁ ligature and ½ fractions"]);
}

#[test]
fn preprocessing_matches_clip_image_processor() {
    let dir = hf_folder();
    let model = load_fixture(dir.path());
    let r = reference();
    let j = reference_json();
    let photo_dir = workspace().join(j["photo_dir"].as_str().unwrap());
    let want = pixels_of(&r["photo_pixels"]);
    let names = j["photos"].as_array().unwrap();
    assert!(names.len() >= 5);
    let mut ours = Vec::new();
    for (name, want) in names.iter().zip(&want) {
        let path = photo_dir.join(name.as_str().unwrap());
        let img = image_io::open(&path, image_io::DEFAULT_MAX_PIXELS).unwrap();
        let px = model.image.preprocess(&img).unwrap();
        assert_eq!((px.height, px.width), (224, 224));
        let mad = px
            .data
            .iter()
            .zip(&want.data)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / px.data.len() as f32;
        assert!(
            mad < PIXEL_MEAN_ABS_TOLERANCE,
            "{}: mean abs pixel difference {mad}",
            path.display()
        );
        ours.push(px);
    }
    // And the resulting embeddings are close to those of the processor's exact pixels.
    let vecs = model.image.embed_pixels(&ours).unwrap();
    let want_vecs = rows(&r["photo_embeds"]);
    for (a, b) in vecs.iter().zip(&want_vecs) {
        let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        assert!(cos > 0.99, "photo embedding cosine {cos}");
    }
}

#[test]
fn missing_files_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&ModelSpec::Dir(dir.path().to_path_buf()), &DeviceSpec::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("tokenizer.json"),
        "{err}"
    );
    assert!(err.contains("vocab.json + merges.txt"), "{err}");
}
