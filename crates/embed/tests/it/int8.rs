//! `--precision int8` keeps the embeddings within a cosine of 0.99 of the `f32` model's, on ukbench
//! photos and the fixtures' captions: for the CLIP and SigLIP fixtures (small random transformers
//! models) and for a full-size ViT-B/32 CLIP with random weights. Each test prints its smallest and mean
//! cosine (the README quotes them: `cargo test --release -p vsearch-embed --test it int8:: -- --nocapture`).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::path::{Path, PathBuf};
use vsearch_embed::clip::{ClipConfig, ClipModel};
use vsearch_embed::preprocess::{self, ClipRecipe};
use vsearch_embed::{image_io, load, load_at, DeviceSpec, ModelSpec, Precision};
use vsearch_testkit::kernels;

/// The bound `--precision int8` is offered under.
const MIN_COSINE: f32 = 0.99;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixture's reference.json.
fn reference(fixture: &str) -> serde_json::Value {
    let path = workspace()
        .join("tests/fixtures")
        .join(fixture)
        .join("reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The ukbench photos a fixture's reference names.
fn photos(reference: &serde_json::Value) -> Vec<image::DynamicImage> {
    let dir = workspace().join(reference["photo_dir"].as_str().unwrap());
    reference["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| {
            image_io::open(
                &dir.join(name.as_str().unwrap()),
                image_io::DEFAULT_MAX_PIXELS,
            )
            .unwrap()
        })
        .collect()
}

/// Token id rows of a fixture's reference.
fn ids(reference: &serde_json::Value) -> Vec<Vec<u32>> {
    serde_json::from_value(reference["ids"].clone()).unwrap()
}

/// The smallest and the mean cosine between matching rows.
fn cosines(a: &[Vec<f32>], b: &[Vec<f32>]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let cos: Vec<f32> = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
            let norm = |v: &[f32]| v.iter().map(|p| p * p).sum::<f32>().sqrt();
            dot / (norm(x) * norm(y))
        })
        .collect();
    let min = cos.iter().copied().fold(f32::INFINITY, f32::min);
    (min, cos.iter().sum::<f32>() / cos.len() as f32)
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_dtype(DType::F32).unwrap().to_vec2::<f32>().unwrap()
}

/// Asserts the bound on `what` and prints the figures.
fn check(what: &str, f32_rows: &[Vec<f32>], int8_rows: &[Vec<f32>]) {
    let (min, mean) = cosines(f32_rows, int8_rows);
    eprintln!(
        "{what}: int8 vs f32 cosine min {min:.5}, mean {mean:.5} ({} rows)",
        f32_rows.len()
    );
    assert!(
        min >= MIN_COSINE,
        "{what}: int8 cosine {min} < {MIN_COSINE}"
    );
    // Not the same numbers: the int8 model really ran.
    assert!(mean < 0.999_999, "{what}: int8 gave f32's embeddings");
}

fn clip_pixels(images: &[image::DynamicImage], recipe: &ClipRecipe, size: usize) -> Tensor {
    let px: Vec<_> = images
        .iter()
        .map(|img| preprocess::clip(img, recipe).unwrap())
        .collect();
    preprocess::square_batch(&px, size, "CLIP", &Device::Cpu).unwrap()
}

/// [`check`] on a CLIP pair's image features of `pixels` and text features of `ids`.
fn check_clip(
    what: &str,
    [f32_model, int8_model]: [&ClipModel; 2],
    pixels: &Tensor,
    ids: &[Vec<u32>],
) {
    let image = |m: &ClipModel| rows(&m.image_features(pixels).unwrap());
    check(
        &format!("{what}, photos"),
        &image(f32_model),
        &image(int8_model),
    );
    let text = |m: &ClipModel| rows(&m.text_features(ids).unwrap());
    check(
        &format!("{what}, captions"),
        &text(f32_model),
        &text(int8_model),
    );
}

/// Whether this CPU runs the int8 kernels, recorded as exercised under the level of the tile the
/// models use here (the AVX-512 VNNI tile where the CPU has it, else the AVX2 tile); a listed skip (or a
/// failure, unless allowed) without AVX2.
fn int8_kernel_runs() -> bool {
    use vsearch_embed::cpu::{Int8Tile, Kernel};
    match Kernel::selected().and_then(Int8Tile::detect) {
        Some(Int8Tile::Avx512Vnni) => {
            kernels::runs("int8 tiles in the models (VNNI)", "avx512", true)
        }
        Some(Int8Tile::Avx2) => kernels::runs("int8 tiles in the models", "avx2", true),
        None => kernels::runs("int8 tiles in the models", "avx2", false),
    }
}

#[test]
fn clip_fixture_int8_embeddings_stay_close_to_f32() {
    if !int8_kernel_runs() {
        return;
    }
    let dir = workspace().join("tests/fixtures/clip-tiny");
    let r = reference("clip-tiny");
    let [f32_model, int8_model] =
        [Precision::F32, Precision::Int8].map(|p| ClipModel::load(&dir, &Device::Cpu, p).unwrap());
    let pixels = clip_pixels(
        &photos(&r),
        &ClipRecipe::from_dir(&dir).unwrap(),
        f32_model.image_size(),
    );
    check_clip("CLIP fixture", [&f32_model, &int8_model], &pixels, &ids(&r));
}

#[test]
fn full_size_clip_int8_embeddings_stay_close_to_f32() {
    if !int8_kernel_runs() {
        return;
    }
    let config = ClipConfig::vit_b32();
    let device = Device::Cpu;
    let weights = vsearch_embed::clip::random_weights(&config, &device).unwrap();
    let [f32_model, int8_model] = [Precision::F32, Precision::Int8].map(|p| {
        ClipModel::new(
            VarBuilder::from_tensors(weights.clone(), DType::F32, &device),
            &config.clone().with_precision(p),
        )
        .unwrap()
    });
    let r = reference("clip-tiny");
    let pixels = clip_pixels(&photos(&r), &ClipRecipe::default(), 224);
    check_clip(
        "ViT-B/32 random",
        [&f32_model, &int8_model],
        &pixels,
        &ids(&r),
    );
}

/// SigLIP through the registry, as `vsearch embed --precision int8 --model-dir` loads it: photos
/// decoded and preprocessed by the embedder, captions tokenised by it.
#[test]
fn siglip_fixture_int8_embeddings_stay_close_to_f32() {
    if !int8_kernel_runs() {
        return;
    }
    let spec = ModelSpec::Dir(workspace().join("tests/fixtures/siglip-tiny"));
    let f32_model = load(&spec, &DeviceSpec::Cpu).unwrap();
    let int8_model = load_at(&spec, &DeviceSpec::Cpu, Precision::Int8).unwrap();
    let r = reference("siglip-tiny");
    let images = photos(&r);
    let image = |m: &vsearch_embed::Embedder| {
        let px: Vec<_> = images
            .iter()
            .map(|img| m.image.preprocess(img).unwrap())
            .collect();
        m.image.embed_pixels(&px).unwrap()
    };
    check(
        "SigLIP fixture, photos",
        &image(&f32_model),
        &image(&int8_model),
    );
    let strings: Vec<String> = serde_json::from_value(r["strings"].clone()).unwrap();
    let strings: Vec<&str> = strings.iter().map(String::as_str).collect();
    let text =
        |m: &vsearch_embed::Embedder| m.text.as_ref().unwrap().embed_texts(&strings).unwrap();
    check(
        "SigLIP fixture, captions",
        &text(&f32_model),
        &text(&int8_model),
    );
}

#[test]
fn int8_is_refused_where_it_does_not_apply() {
    let err = load_at(
        &ModelSpec::Preset("efficientnet-lite0".into()),
        &DeviceSpec::Cpu,
        Precision::Int8,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("convolutional") && err.contains("f32"),
        "{err}"
    );
    let err = load_at(
        &ModelSpec::Dir(workspace().join("tests/fixtures/siglip-tiny")),
        &DeviceSpec::Cuda(0),
        Precision::Int8,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("--device cpu"), "{err}");
}
