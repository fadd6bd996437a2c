//! Evaluation helpers shared by tests and benchmarks: deterministic synthetic data, dataset readers
//! (Fashion-MNIST IDX, fvecs/ivecs), exact ground truth and recall.

use crate::error::{IndexError, Result};
use crate::flat::FlatIndex;
use crate::{Hit, Metric, SearchParams, VectorIndex};
use std::io::Read;
use std::path::Path;

/// Small deterministic generator (splitmix64) with Box-Muller normals; the same seed gives the same data
/// on every platform.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            spare: None,
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }
}

/// `n` points (row-major, `n * dim`) around `clusters` Gaussian centres: centres are N(0, 1) per
/// component, points spread N(0, 0.35^2) around a uniformly chosen centre. Deterministic in `seed`.
/// Draw base and queries from one call (then split) so that both share the centres.
pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let clusters = clusters.max(1);
    let mut rng = Rng::new(seed);
    let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.normal() as f32).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.below(clusters);
        for j in 0..dim {
            out.push(centres[c * dim + j] + 0.35 * rng.normal() as f32);
        }
    }
    out
}

/// Scales every row of `data` (rows of `dim`) to unit length; zero rows stay zero.
pub fn normalize_rows(data: &mut [f32], dim: usize) {
    if dim == 0 {
        return;
    }
    for row in data.chunks_exact_mut(dim) {
        crate::normalize(row);
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format(path: &Path, reason: impl Into<String>) -> IndexError {
    IndexError::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads a whole file, gunzipping it when it starts with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(io(path))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(io(path))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Reads an IDX file of `u8` images (`.gz` or plain, e.g. Fashion-MNIST `train-images-idx3-ubyte.gz`) as
/// `(n, dim, data)` with `dim = rows * cols` and values scaled to `[0, 1]`.
pub fn read_idx_images(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < 16 || bytes[..4] != [0, 0, 8, 3] {
        return Err(format(
            path,
            "not an IDX file of u8 images (magic 0x00000803)",
        ));
    }
    let be = |o: usize| {
        u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
    };
    let (n, rows, cols) = (be(4), be(8), be(12));
    let dim = rows * cols;
    let need = n.checked_mul(dim).and_then(|v| v.checked_add(16));
    if need != Some(bytes.len()) {
        return Err(format(
            path,
            format!(
                "IDX header says {n} x {rows} x {cols} but the file has {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok((
        n,
        dim,
        bytes[16..].iter().map(|&b| b as f32 / 255.0).collect(),
    ))
}

/// Reads `.fvecs` / `.ivecs` records: each is a little-endian `i32` dimension then `dim` 4-byte values.
fn read_vecs(path: &Path) -> Result<(usize, usize, Vec<[u8; 4]>)> {
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < 4 {
        return Err(format(path, "file too short for a vecs record"));
    }
    let dim = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if dim <= 0 {
        return Err(format(
            path,
            format!("invalid dimension {dim} in the first record"),
        ));
    }
    let dim = dim as usize;
    let record = 4 * (dim + 1);
    if !bytes.len().is_multiple_of(record) {
        return Err(format(
            path,
            format!(
                "length {} is not a multiple of the record size {record}",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / record;
    let mut out = Vec::with_capacity(n * dim);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        if rec[..4] != bytes[..4] {
            return Err(format(
                path,
                format!("record {i} has a different dimension"),
            ));
        }
        out.extend(rec[4..].chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]));
    }
    Ok((n, dim, out))
}

/// Reads an `.fvecs` file (TEXMEX format) as `(n, dim, data)`.
pub fn read_fvecs(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let (n, dim, raw) = read_vecs(path)?;
    Ok((n, dim, raw.into_iter().map(f32::from_le_bytes).collect()))
}

/// Reads an `.ivecs` file (TEXMEX format, e.g. ground-truth neighbour ids) as `(n, dim, data)`.
pub fn read_ivecs(path: &Path) -> Result<(usize, usize, Vec<i32>)> {
    let (n, dim, raw) = read_vecs(path)?;
    Ok((n, dim, raw.into_iter().map(i32::from_le_bytes).collect()))
}

/// Exact `k` nearest base rows (ids are row numbers `0..n`) for every query, by the flat index.
pub fn ground_truth(
    base: &[f32],
    queries: &[f32],
    dim: usize,
    metric: Metric,
    k: usize,
) -> Result<Vec<Vec<u64>>> {
    if dim == 0 || !base.len().is_multiple_of(dim) {
        return Err(IndexError::Dimension {
            expected: dim,
            got: if dim == 0 { 0 } else { base.len() % dim },
        });
    }
    let ids: Vec<u64> = (0..(base.len() / dim) as u64).collect();
    let index = FlatIndex::build(dim, metric, &ids, base)?;
    let hits = index.search_batch(queries, k, &SearchParams::default())?;
    Ok(hits
        .into_iter()
        .map(|r| r.into_iter().map(|h| h.id).collect())
        .collect())
}

/// Fraction of the true `k` nearest found among the first `k` results, over all queries.
/// A query whose truth has fewer than `k` ids counts only those.
pub fn recall_at_k(results: &[Vec<Hit>], truth: &[Vec<u64>], k: usize) -> f64 {
    let mut found = 0usize;
    let mut total = 0usize;
    for (r, t) in results.iter().zip(truth) {
        let t = &t[..k.min(t.len())];
        total += t.len();
        found += r.iter().take(k).filter(|h| t.contains(&h.id)).count();
    }
    if total == 0 {
        return 0.0;
    }
    found as f64 / total as f64
}
