//! The legacy (non-zip) torch pickle reader on a tiny checkpoint written by
//! `torch.save(..., _use_new_zipfile_serialization=False)` (scripts/make_lite0_fixture.py).

use candle_core::{DType, Device};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vsearch_embed::torch_legacy::read_state_dict;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lite0")
        .join(name)
}

#[test]
fn reads_tiny_legacy_checkpoint_like_torch() {
    let got: HashMap<_, _> = read_state_dict(&fixture("tiny_legacy.pth"))
        .unwrap()
        .into_iter()
        .collect();
    let want =
        candle_core::safetensors::load(fixture("tiny_legacy.safetensors"), &Device::Cpu).unwrap();
    let mut names: Vec<_> = got.keys().cloned().collect();
    names.sort();
    let mut want_names: Vec<_> = want.keys().cloned().collect();
    want_names.sort();
    assert_eq!(names, want_names);
    for (name, w) in &want {
        let g = &got[name];
        assert_eq!(g.dtype(), w.dtype(), "{name}");
        assert_eq!(g.dims(), w.dims(), "{name}");
        let (g, w) = (
            g.to_dtype(DType::F64).unwrap(),
            w.to_dtype(DType::F64).unwrap(),
        );
        let g = g.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let w = w.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(g, w, "{name}");
    }
    // The view into a larger storage starts at element 4.
    let view = got["view"].to_vec1::<f32>().unwrap();
    assert_eq!(view, vec![4.0, 5.0, 6.0, 7.0]);
    // The transposed view comes back in logical order.
    let t = got["transposed"].to_vec2::<f32>().unwrap();
    assert_eq!(t, vec![vec![0.0, 3.0], vec![1.0, 4.0], vec![2.0, 5.0]]);
}

#[test]
fn rejects_non_legacy_files() {
    let err = read_state_dict(&fixture("tiny_legacy.safetensors")).unwrap_err();
    assert!(
        err.to_string().contains("not a legacy torch.save file"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.pth");
    let bytes = std::fs::read(fixture("tiny_legacy.pth")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let err = read_state_dict(&truncated).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}
