//! Datasets: what `--dataset` names, loaded into base vectors, held-out queries and (optionally) given ground truth.

use crate::error::{BenchError, Result};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use vsearch_index::Metric;

/// Default location of the Debian `dataset-fashion-mnist` IDX files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// A `--dataset` argument.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetSpec {
    /// The embeddings of an indexed folder (or its `.vsearch`); a seeded sample of rows is held out as queries.
    Collection(PathBuf),
    /// Fashion-MNIST IDX `.gz` files: 60,000 base (train), 10,000 queries (t10k), 784-d, L2.
    FashionMnist(PathBuf),
    /// `.fvecs` base and query files, optional `.ivecs` ground truth. L2.
    Fvecs {
        base: PathBuf,
        query: PathBuf,
        ground_truth: Option<PathBuf>,
    },
    /// `n` clustered Gaussian vectors of dimension `dim` around `clusters` centres, seeded; L2.
    Synthetic {
        n: usize,
        dim: usize,
        clusters: usize,
    },
}

impl FromStr for DatasetSpec {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| BenchError::BadSpec {
            spec: s.to_string(),
            reason: reason.to_string(),
        };
        let (kind, rest) = match s.split_once(':') {
            Some((k, r)) => (k, Some(r)),
            None => (s, None),
        };
        match kind {
            "collection" => match rest {
                Some(p) if !p.is_empty() => Ok(DatasetSpec::Collection(PathBuf::from(p))),
                _ => Err(bad("collection needs a path")),
            },
            "fashion-mnist" => Ok(DatasetSpec::FashionMnist(PathBuf::from(
                rest.filter(|r| !r.is_empty()).unwrap_or(FASHION_MNIST_DIR),
            ))),
            "fvecs" => {
                let parts: Vec<&str> = rest.unwrap_or("").split(',').collect();
                if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
                    return Err(bad("fvecs needs BASE,QUERY[,GROUNDTRUTH]"));
                }
                Ok(DatasetSpec::Fvecs {
                    base: parts[0].into(),
                    query: parts[1].into(),
                    ground_truth: parts.get(2).map(PathBuf::from),
                })
            }
            "synthetic" => {
                let parts: Vec<&str> = rest.unwrap_or("").split(',').collect();
                let nums: std::result::Result<Vec<usize>, _> =
                    parts.iter().map(|p| p.trim().parse::<usize>()).collect();
                match nums.as_deref() {
                    Ok([n, d, c]) if *n > 0 && *d > 0 && *c > 0 => Ok(DatasetSpec::Synthetic {
                        n: *n,
                        dim: *d,
                        clusters: *c,
                    }),
                    _ => Err(bad("synthetic needs N,D,CLUSTERS, three positive integers")),
                }
            }
            _ => Err(bad("unknown dataset kind")),
        }
    }
}

/// Base vectors and queries, row-major.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Short name used in reports and cache keys.
    pub name: String,
    pub dim: usize,
    pub metric: Metric,
    /// Ids of the base rows (the collection's ids, or 0..n).
    pub ids: Vec<u64>,
    /// `ids.len() * dim` values.
    pub base: Vec<f32>,
    /// `n_queries * dim` values.
    pub queries: Vec<f32>,
    /// Ground truth given with the dataset (ids of the nearest base rows per query, best first), if any.
    pub ground_truth: Option<Vec<Vec<u64>>>,
    /// Folder where the ground-truth cache is kept when writable.
    pub home: Option<PathBuf>,
    /// Content hash, part of the ground-truth cache name, for data that can change under the same name
    /// (collections).
    pub fingerprint: Option<String>,
}

impl Dataset {
    /// Number of base vectors.
    pub fn n_base(&self) -> usize {
        self.ids.len()
    }
    /// Number of queries.
    pub fn n_queries(&self) -> usize {
        self.queries.len().checked_div(self.dim).unwrap_or(0)
    }
    /// Keeps the first `n` queries (and their ground truth).
    pub fn truncate_queries(&mut self, n: usize) {
        if n < self.n_queries() {
            self.queries.truncate(n * self.dim);
            if let Some(gt) = &mut self.ground_truth {
                gt.truncate(n);
            }
        }
    }
}

/// Loads a dataset. `holdout` is the number of queries held out of a collection (others have their own queries).
pub fn load(spec: &DatasetSpec, holdout: usize) -> Result<Dataset> {
    match spec {
        DatasetSpec::FashionMnist(dir) => load_fashion_mnist(dir),
        DatasetSpec::Fvecs {
            base,
            query,
            ground_truth,
        } => {
            let (dim, base_v) = read_fvecs(base)?;
            let (qdim, queries) = read_fvecs(query)?;
            if dim != qdim {
                return Err(BenchError::bad_file(
                    query,
                    format!("queries have dimension {qdim}, base has {dim}"),
                ));
            }
            let gt = match ground_truth {
                Some(p) => Some(
                    read_ivecs(p)?
                        .into_iter()
                        .map(|r| r.into_iter().map(|v| v as u64).collect())
                        .collect(),
                ),
                None => None,
            };
            let n = base_v.len() / dim;
            Ok(Dataset {
                name: base
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "fvecs".into()),
                dim,
                metric: Metric::L2,
                ids: (0..n as u64).collect(),
                base: base_v,
                queries,
                ground_truth: gt,
                home: base.parent().map(Path::to_path_buf),
                fingerprint: None,
            })
        }
        DatasetSpec::Synthetic { n, dim, clusters } => {
            let q = holdout.max(1);
            let all = clustered(n + q, *dim, *clusters, 42);
            let split = n * dim;
            Ok(Dataset {
                name: format!("synthetic-{n}-{dim}-{clusters}"),
                dim: *dim,
                metric: Metric::L2,
                ids: (0..*n as u64).collect(),
                base: all[..split].to_vec(),
                queries: all[split..].to_vec(),
                ground_truth: None,
                home: None,
                fingerprint: None,
            })
        }
        DatasetSpec::Collection(path) => crate::collection::load(path, holdout),
    }
}

fn load_fashion_mnist(dir: &Path) -> Result<Dataset> {
    let train = dir.join("train-images-idx3-ubyte.gz");
    let test = dir.join("t10k-images-idx3-ubyte.gz");
    for f in [&train, &test] {
        if !f.exists() {
            return Err(BenchError::bad_file(
                f,
                "not found; install Debian's dataset-fashion-mnist or pass fashion-mnist:DIR with the IDX .gz files",
            ));
        }
    }
    let (dim, base) = read_idx_images(&train)?;
    let (qdim, queries) = read_idx_images(&test)?;
    if dim != qdim {
        return Err(BenchError::bad_file(
            &test,
            "image size differs from the training set",
        ));
    }
    let n = base.len() / dim;
    Ok(Dataset {
        name: "fashion-mnist".into(),
        dim,
        metric: Metric::L2,
        ids: (0..n as u64).collect(),
        base,
        queries,
        ground_truth: None,
        home: Some(dir.to_path_buf()),
        fingerprint: None,
    })
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| BenchError::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| BenchError::bad_file(path, format!("gzip: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Reads an IDX3 unsigned-byte image file (optionally gzipped) as `(dim, rows * dim floats)`, pixel values 0..255.
pub fn read_idx_images(path: &Path) -> Result<(usize, Vec<f32>)> {
    let data = read_all(path)?;
    let be = |o: usize| -> Option<usize> {
        data.get(o..o + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let (magic, n, rows, cols) = match (be(0), be(4), be(8), be(12)) {
        (Some(m), Some(n), Some(r), Some(c)) => (m, n, r, c),
        _ => return Err(BenchError::bad_file(path, "too short for an IDX header")),
    };
    if magic != 0x0803 {
        return Err(BenchError::bad_file(
            path,
            format!("not an IDX3 unsigned-byte file (magic {magic:#x})"),
        ));
    }
    let dim = rows * cols;
    let body = &data[16..];
    if dim == 0 || body.len() != n * dim {
        return Err(BenchError::bad_file(
            path,
            format!(
                "expected {n} images of {dim} bytes, found {} bytes",
                body.len()
            ),
        ));
    }
    Ok((dim, body.iter().map(|&b| b as f32).collect()))
}

/// Reads a `.fvecs` file (each row: little-endian i32 dimension, then that many f32) as `(dim, values)`.
pub fn read_fvecs(path: &Path) -> Result<(usize, Vec<f32>)> {
    let data = read_all(path)?;
    let rows = read_vecs(path, &data)?;
    let dim = rows.first().map(|r| r.len()).unwrap_or(0);
    let mut out = Vec::with_capacity(rows.len() * dim);
    for r in rows {
        out.extend(r.iter().map(|b| f32::from_le_bytes(*b)));
    }
    Ok((dim, out))
}

/// Reads an `.ivecs` file as rows of i32.
pub fn read_ivecs(path: &Path) -> Result<Vec<Vec<i32>>> {
    let data = read_all(path)?;
    Ok(read_vecs(path, &data)?
        .into_iter()
        .map(|r| r.iter().map(|b| i32::from_le_bytes(*b)).collect())
        .collect())
}

fn read_vecs(path: &Path, data: &[u8]) -> Result<Vec<Vec<[u8; 4]>>> {
    let mut rows = Vec::new();
    let mut off = 0;
    let mut dim0 = None;
    while off < data.len() {
        let head = data
            .get(off..off + 4)
            .ok_or_else(|| BenchError::bad_file(path, "truncated row header"))?;
        let d = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if d <= 0 || dim0.is_some_and(|d0| d0 != d) {
            return Err(BenchError::bad_file(
                path,
                format!("bad row dimension {d} at byte {off}"),
            ));
        }
        dim0 = Some(d);
        let d = d as usize;
        let body = data
            .get(off + 4..off + 4 + 4 * d)
            .ok_or_else(|| BenchError::bad_file(path, "truncated row"))?;
        rows.push(
            body.chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect(),
        );
        off += 4 + 4 * d;
    }
    if rows.is_empty() {
        return Err(BenchError::bad_file(path, "empty file"));
    }
    Ok(rows)
}

/// Writes rows of `dim` f32 values as `.fvecs`, atomically.
pub fn write_fvecs(path: &Path, dim: usize, values: &[f32]) -> Result<()> {
    let mut buf = Vec::with_capacity(values.len() * 4 + values.len() / dim.max(1) * 4);
    for row in values.chunks_exact(dim) {
        buf.extend_from_slice(&(dim as i32).to_le_bytes());
        for v in row {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
    write_atomic(path, &buf)
}

/// Writes rows of ids as `.ivecs`, atomically.
pub fn write_ivecs(path: &Path, rows: &[Vec<u64>]) -> Result<()> {
    let mut buf = Vec::new();
    for row in rows {
        buf.extend_from_slice(&(row.len() as i32).to_le_bytes());
        for v in row {
            buf.extend_from_slice(&(*v as i32).to_le_bytes());
        }
    }
    write_atomic(path, &buf)
}

/// Writes `bytes` to `path` through a file beside it and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| BenchError::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| BenchError::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Temporary files are private; results are meant to be read by anyone.
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| BenchError::io(path, e))?;
    }
    tmp.persist(path)
        .map_err(|e| BenchError::io(path, e.error))?;
    Ok(())
}

/// `n` vectors of dimension `dim` drawn around `clusters` random centres (uniform in [-1, 1]) with Gaussian
/// noise of standard deviation 0.15, from a fixed seed: the same arguments give the same data.
pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..clusters * dim)
        .map(|_| rng.gen_range(-1.0f32..1.0))
        .collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.gen_range(0..clusters);
        for j in 0..dim {
            // Box-Muller normal sample.
            let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
            let u2: f32 = rng.gen_range(0.0f32..1.0);
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos();
            out.push(centres[c * dim + j] + 0.15 * z);
        }
    }
    out
}

/// Keeps letters, digits, '-' and '_'; anything else becomes '_'.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `base.fvecs`, `query.fvecs` and `gt.ivecs` (ground truth ids, positions in the base) into `dir`, for
/// `scripts/bench_peers.py`.
pub fn export(ds: &Dataset, ground_truth: &[Vec<u64>], dir: &Path) -> Result<()> {
    // Peers index rows 0..n, so ids are translated to row positions.
    let pos: std::collections::HashMap<u64, u64> = ds
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u64))
        .collect();
    let gt_rows: Vec<Vec<u64>> = ground_truth
        .iter()
        .map(|r| {
            r.iter()
                .map(|id| pos.get(id).copied().unwrap_or(u64::MAX))
                .collect()
        })
        .collect();
    write_fvecs(&dir.join("base.fvecs"), ds.dim, &ds.base)?;
    write_fvecs(&dir.join("query.fvecs"), ds.dim, &ds.queries)?;
    write_ivecs(&dir.join("gt.ivecs"), &gt_rows)?;
    let meta = serde_json::json!({"name": ds.name, "metric": ds.metric, "dim": ds.dim, "n_base": ds.n_base(), "n_queries": ds.n_queries()});
    write_atomic(&dir.join("dataset.json"), meta.to_string().as_bytes())
}
