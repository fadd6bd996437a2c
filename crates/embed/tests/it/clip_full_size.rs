//! A ViT-B/32-shaped CLIP (openai/clip-vit-base-patch32's config) with random weights runs both towers.

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use vsearch_embed::clip::{ClipConfig, ClipModel};
use vsearch_embed::Precision;

#[test]
fn vit_b32_shaped_model_runs_forward() {
    let config = ClipConfig::vit_b32();
    assert_eq!(config.vision_config.hidden_size, 768);
    assert_eq!(config.text_config.hidden_size, 512);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = ClipModel::new(vb, &config).unwrap();

    let pixels = Tensor::randn(0f32, 1.0, (2, 3, 224, 224), &Device::Cpu).unwrap();
    let img = model.image_features(&pixels).unwrap();
    assert_eq!(img.dims(), &[2, 512]);
    let v = img.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(
        v.iter().all(|x| x.is_finite()),
        "image features have NaN/inf"
    );

    let ids = vec![
        vec![49406, 320, 1125, 539, 320, 2368, 49407],
        (0..77)
            .map(|i| {
                if i == 0 {
                    49406
                } else if i == 76 {
                    49407
                } else {
                    320 + i
                }
            })
            .collect(),
    ];
    let txt = model.text_features(&ids).unwrap();
    assert_eq!(txt.dims(), &[2, 512]);
    let v = txt.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(
        v.iter().all(|x| x.is_finite()),
        "text features have NaN/inf"
    );
}

/// The folder `write_random_checkpoint` writes (how `benches/index_overlap.rs` makes a full-size CLIP
/// folder) loads back as the model of the weights it returned.
#[test]
fn serialised_config_and_random_weights_load_as_the_same_model() {
    let mut config = ClipConfig::vit_b32();
    config.vision_config.num_hidden_layers = 2;
    config.text_config.num_hidden_layers = 2;
    let device = Device::Cpu;
    let dir = tempfile::tempdir().unwrap();
    let weights =
        vsearch_embed::clip::write_random_checkpoint(&config, dir.path(), &device).unwrap();

    let loaded = ClipModel::load(dir.path(), &device, Precision::F32).unwrap();
    assert_eq!(loaded.config.vision_config.num_hidden_layers, 2);
    assert_eq!(loaded.config.text_config.eos_token_id, Some(49407));
    let built = ClipModel::new(
        VarBuilder::from_tensors(weights, DType::F32, &device),
        &config,
    )
    .unwrap();
    let pixels = Tensor::randn(0f32, 1.0, (1, 3, 224, 224), &device).unwrap();
    let values = |m: &ClipModel| {
        m.image_features(&pixels)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(values(&loaded), values(&built));
}
