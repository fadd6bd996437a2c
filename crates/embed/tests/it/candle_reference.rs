//! Full-size CLIP (ViT-B/32) and SigLIP (base, patch 16, 224) against an independent implementation on the
//! same random weights: candle-transformers' own models, which run candle's plain ops (matmul, softmax,
//! layer norm, GELU as separate tensors) where vsearch runs its fused CPU kernels (packed GEMM tiles, fused
//! attention, fused norms). Image and text features must agree to 1e-4 of their largest value, so the
//! full-size path cannot drift unseen (the 2-layer fixtures are checked against transformers elsewhere).

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::{clip as ct_clip, siglip as ct_siglip};
use std::collections::HashMap;
use vsearch_embed::clip::{ClipConfig, ClipModel};
use vsearch_embed::siglip::{SiglipConfig, SiglipModel};

/// The agreement asked of each feature: 1e-4 of the largest absolute value in the compared features.
const TOLERANCE: f32 = 1e-4;

/// Random weights for a model whose variables `build` creates: N(0, 0.02) for matrices and embeddings,
/// and, unlike a fresh model's zeros and ones, random biases and layer-norm scales and shifts too, so
/// that a kernel that drops a bias or a norm's parameters cannot agree by luck.
fn random_weights(build: impl FnOnce(VarBuilder) -> Result<(), String>) -> HashMap<String, Tensor> {
    let varmap = VarMap::new();
    build(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)).unwrap();
    let data = varmap.data().lock().unwrap();
    data.iter()
        .map(|(name, var)| {
            let shape = var.shape().clone();
            let dev = &Device::Cpu;
            let t = if name.contains("norm") && name.ends_with(".weight") {
                (Tensor::randn(0f32, 0.1, shape, dev).unwrap() + 1.0).unwrap()
            } else if name.ends_with(".bias") {
                Tensor::randn(0f32, 0.05, shape, dev).unwrap()
            } else if name.contains("logit") {
                Tensor::full(2.6592f32, shape, dev).unwrap()
            } else {
                Tensor::randn(0f32, 0.02, shape, dev).unwrap()
            };
            (name.clone(), t)
        })
        .collect()
}

fn vb(weights: &HashMap<String, Tensor>) -> VarBuilder<'static> {
    VarBuilder::from_tensors(weights.clone(), DType::F32, &Device::Cpu)
}

/// Photos as the models take them: two fixed random images and a smooth gradient.
fn pixels(size: usize) -> Tensor {
    let dev = &Device::Cpu;
    let noise = Tensor::randn(0f32, 1.0, (2, 3, size, size), dev).unwrap();
    let ramp: Vec<f32> = (0..3 * size * size)
        .map(|i| ((i % size) as f32 / size as f32 - 0.5) * 3.0 + (i / (size * size)) as f32 * 0.3)
        .collect();
    let ramp = Tensor::from_vec(ramp, (1, 3, size, size), dev).unwrap();
    Tensor::cat(&[noise, ramp], 0).unwrap()
}

/// Checks `got` against `want` (same shape) to [`TOLERANCE`] of `want`'s largest value.
fn agree(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes");
    let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let want = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3, "{what}: features near zero ({scale})");
    let worst = got
        .iter()
        .zip(&want)
        .fold(0f32, |m, (g, w)| m.max((g - w).abs()));
    eprintln!("{what}: largest difference {worst:.2e} of scale {scale:.3}");
    assert!(
        worst <= TOLERANCE * scale,
        "{what}: largest difference {worst} > {TOLERANCE} x {scale}"
    );
}

#[test]
fn full_size_clip_equals_candle_transformers() {
    let config = ClipConfig::vit_b32();
    let weights = vsearch_embed::clip::random_weights(&config, &Device::Cpu).unwrap();
    // vsearch's random weights leave biases at zero and norms at one: randomise those too.
    let weights: HashMap<String, Tensor> = {
        let varied = random_weights(|vb| {
            ClipModel::new(vb, &config)
                .map(drop)
                .map_err(|e| e.to_string())
        });
        weights
            .into_iter()
            .map(|(name, t)| {
                let keep = !(name.ends_with(".bias") || name.contains("norm"));
                let t = if keep { t } else { varied[&name].clone() };
                (name, t)
            })
            .collect()
    };
    let ours = ClipModel::new(vb(&weights), &config).unwrap();
    let theirs =
        ct_clip::ClipModel::new(vb(&weights), &ct_clip::ClipConfig::vit_base_patch32()).unwrap();

    let px = pixels(224);
    agree(
        "ViT-B/32 image features",
        &ours.image_features(&px).unwrap(),
        &theirs.get_image_features(&px).unwrap(),
    );
    // Captions one at a time (candle-transformers pools at the largest id, the end-of-text token, and
    // takes no padding): short, long, and cut at 77.
    let captions: Vec<Vec<u32>> = vec![
        vec![49406, 320, 1125, 539, 320, 2368, 49407],
        vec![
            49406, 320, 736, 1615, 2042, 1131, 531, 320, 1746, 1212, 269, 49407,
        ],
        (0..77)
            .map(|i| match i {
                0 => 49406,
                76 => 49407,
                i => 320 + 37 * i,
            })
            .collect(),
    ];
    for ids in &captions {
        let t = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        agree(
            &format!("ViT-B/32 text features, {} ids", ids.len()),
            &ours.text_features(std::slice::from_ref(ids)).unwrap(),
            &theirs.get_text_features(&t).unwrap(),
        );
    }
    // The same captions as one batch of different lengths (vsearch packs them without padding and runs
    // each only up to its end-of-text token) against candle-transformers one at a time; a copy of the
    // short caption padded with end-of-text ids after it gives the short caption's features.
    let mut padded = captions[0].clone();
    padded.extend([49407; 9]);
    let batch = [captions.clone(), vec![padded]].concat();
    let ours_batch = ours.text_features(&batch).unwrap();
    for (i, ids) in batch.iter().enumerate() {
        let unpadded = if i == captions.len() {
            &captions[0]
        } else {
            ids
        };
        let t = Tensor::new(unpadded.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        agree(
            &format!(
                "ViT-B/32 text features in a batch, row {i} ({} ids)",
                ids.len()
            ),
            &ours_batch.narrow(0, i, 1).unwrap(),
            &theirs.get_text_features(&t).unwrap(),
        );
    }
}

#[test]
fn full_size_siglip_equals_candle_transformers() {
    let config = SiglipConfig::default();
    let ct_config = ct_siglip::Config::base_patch16_224();
    assert_eq!(
        config.vision_config.patch_size,
        ct_config.vision_config.patch_size
    );
    assert_eq!(
        config.text_config.max_position_embeddings,
        ct_config.text_config.max_position_embeddings
    );
    let weights = random_weights(|vb| {
        SiglipModel::new(vb, &config)
            .map(drop)
            .map_err(|e| e.to_string())
    });
    let ours = SiglipModel::new(vb(&weights), &config).unwrap();
    // candle-transformers' model also holds the two scalars of SigLIP's sigmoid loss, which the features
    // do not use and vsearch does not load.
    let mut theirs_weights = weights.clone();
    for name in ["logit_scale", "logit_bias"] {
        theirs_weights.insert(
            name.into(),
            Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap(),
        );
    }
    let theirs = ct_siglip::Model::new(&ct_config, vb(&theirs_weights)).unwrap();

    let px = pixels(224);
    agree(
        "SigLIP base image features",
        &ours.image_features(&px).unwrap(),
        &theirs.get_image_features(&px).unwrap(),
    );
    // SigLIP pads every caption to 64 with the pad id and pools the last position.
    let captions: Vec<Vec<u32>> = [5usize, 20, 64]
        .iter()
        .map(|&len| {
            (0..64)
                .map(|i| {
                    if i < len {
                        (100 + 457 * i as u32) % 32000
                    } else {
                        1
                    }
                })
                .collect()
        })
        .collect();
    let flat: Vec<u32> = captions.iter().flatten().copied().collect();
    let ids = Tensor::from_vec(flat, (captions.len(), 64), &Device::Cpu).unwrap();
    agree(
        "SigLIP base text features",
        &ours.text_features(&captions).unwrap(),
        &theirs.get_text_features(&ids).unwrap(),
    );
}
