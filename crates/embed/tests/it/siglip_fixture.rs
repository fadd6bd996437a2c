//! SigLIP against transformers: a small random `SiglipModel` with a SentencePiece tokenizer
//! (tests/fixtures/siglip-tiny, made by scripts/make_siglip_fixture.py) loaded through `registry::load`
//! like any user folder. Token ids must equal `SiglipTokenizer`'s; text and image embeddings must be
//! within 1e-4 (max abs) of `SiglipModel`'s; our preprocessing of real photos must come close to
//! `SiglipImageProcessor`'s (PIL).

use std::path::{Path, PathBuf};
use vsearch_embed::siglip::{SiglipModel, SiglipTokenizer};
use vsearch_embed::{image_io, load, DeviceSpec, ModelSpec, Precision};

const FEATURE_TOLERANCE: f32 = 1e-4;
const PIXEL_MEAN_ABS_TOLERANCE: f32 = 0.01;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture() -> PathBuf {
    workspace().join("tests/fixtures/siglip-tiny")
}

fn reference_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("reference.json")).unwrap())
        .unwrap()
}

/// A tensor of the reference file as f32 rows.
fn reference(name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(fixture().join("reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor(name).unwrap();
    let values = match t.dtype() {
        safetensors::Dtype::F32 => t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        safetensors::Dtype::F16 => t
            .data()
            .chunks_exact(2)
            .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        other => panic!("{name}: dtype {other:?}"),
    };
    (t.shape().to_vec(), values)
}

fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        31 => f32::INFINITY,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn tokenizer_ids_equal_siglip_tokenizer() {
    let r = reference_json();
    let max_len = r["max_length"].as_u64().unwrap() as usize;
    let tok = SiglipTokenizer::from_dir(&fixture(), max_len).unwrap();
    let mut wrong = Vec::new();
    for (s, ids) in r["strings"]
        .as_array()
        .unwrap()
        .iter()
        .zip(r["ids"].as_array().unwrap())
    {
        let want: Vec<u32> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = tok.encode(s.as_str().unwrap()).unwrap();
        if got != want {
            wrong.push(format!("{s}: got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn text_and_image_features_match_transformers() {
    let device = candle_core::Device::Cpu;
    let model = SiglipModel::load(&fixture(), &device, Precision::F32).unwrap();
    // Text: the reference ids through the model, normalised.
    let bytes = std::fs::read(fixture().join("reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ids_t = st.tensor("input_ids").unwrap();
    let ids: Vec<u32> = ids_t
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect();
    let rows: Vec<Vec<u32>> = ids.chunks(ids_t.shape()[1]).map(<[u32]>::to_vec).collect();
    let got =
        vsearch_embed::preprocess::normalized_rows(&model.text_features(&rows).unwrap()).unwrap();
    let (_, want) = reference("text_embeds");
    let d = max_abs_diff(&got.concat(), &want);
    eprintln!("text embeddings: max abs difference {d:.2e}");
    assert!(d <= FEATURE_TOLERANCE, "text embeddings differ by {d}");
    // Images: fixed pixels and the photos as SiglipImageProcessor made them.
    for (pixels, embeds) in [
        ("fixed_pixels", "fixed_image_embeds"),
        ("photo_pixels", "photo_embeds"),
    ] {
        let (shape, values) = reference(pixels);
        let t = candle_core::Tensor::from_vec(values, shape.as_slice(), &device).unwrap();
        let got =
            vsearch_embed::preprocess::normalized_rows(&model.image_features(&t).unwrap()).unwrap();
        let (_, want) = reference(embeds);
        let d = max_abs_diff(&got.concat(), &want);
        eprintln!("{embeds}: max abs difference {d:.2e}");
        assert!(d <= FEATURE_TOLERANCE, "{embeds} differ by {d}");
    }
}

#[test]
fn the_folder_loads_through_the_registry_and_embeds_photos_and_text() {
    let embedder = load(&ModelSpec::Dir(fixture()), &DeviceSpec::Cpu).unwrap();
    assert!(
        embedder.info.id.starts_with("siglip:"),
        "{}",
        embedder.info.id
    );
    assert!(embedder.info.text);
    let r = reference_json();
    let photo_dir = workspace().join(r["photo_dir"].as_str().unwrap());
    let (shape, ref_pixels) = reference("photo_pixels");
    let per_photo = shape[1] * shape[2] * shape[3];
    let (_, ref_embeds) = reference("photo_embeds");
    let dim = embedder.info.dim;
    for (i, name) in r["photos"].as_array().unwrap().iter().enumerate() {
        let img = image_io::open(
            &photo_dir.join(name.as_str().unwrap()),
            image_io::DEFAULT_MAX_PIXELS,
        )
        .unwrap();
        let px = embedder.image.preprocess(&img).unwrap();
        let want = &ref_pixels[i * per_photo..(i + 1) * per_photo];
        let mean_abs = px
            .data
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / want.len() as f32;
        assert!(
            mean_abs <= PIXEL_MEAN_ABS_TOLERANCE,
            "{name}: pixels differ by {mean_abs} on average"
        );
        let v = embedder.image.embed_pixels(&[px]).unwrap().remove(0);
        let cos: f32 = v
            .iter()
            .zip(&ref_embeds[i * dim..(i + 1) * dim])
            .map(|(a, b)| a * b)
            .sum();
        assert!(
            cos >= 0.999,
            "{name}: cosine {cos} with transformers' embedding"
        );
    }
    let (_, text) = reference("text_embeds");
    let cat = embedder
        .embed_texts(&["a photo of a cat"])
        .unwrap()
        .remove(0);
    let d = max_abs_diff(&cat, &text[..dim]);
    assert!(d <= FEATURE_TOLERANCE, "text embedding differs by {d}");
}
