//! Datasets: what `--dataset` names, loaded into base vectors, held-out queries and (optionally) given ground truth.
//! The data itself (the clustered generator, IDX and fvecs/ivecs files) is read through [`vsearch_index::eval`].

pub use crate::dataset_kind::{dataset_forms, DatasetKind};

use crate::collection;
use crate::error::{BenchError, Result};
use crate::files::{sanitize, write_atomic};
use crate::neural_set::{self, NeuralSpec};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use vsearch_index::eval::{self, ClusteredSpec, FashionMnist, PixelScale};
use vsearch_index::Metric;

/// Noise (standard deviation per component) of the `synthetic` dataset around its centres.
pub const SYNTHETIC_SIGMA: f32 = 0.15;
/// Seed of the `synthetic` dataset.
pub const SYNTHETIC_SEED: u64 = 42;

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
    /// The neural-embedding set ([`neural_set`]): the first `base` Fashion-MNIST training images (and
    /// `ceil(base / 6)` test images as queries) embedded by EfficientNet-Lite0, unit length; cosine.
    Lite0FashionMnist { base: usize },
    /// `n` clustered Gaussian vectors of dimension `dim` around `clusters` centres, noise [`SYNTHETIC_SIGMA`],
    /// seed [`SYNTHETIC_SEED`] (see [`ClusteredSpec`]); L2.
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
        let (name, rest) = match s.split_once(':') {
            Some((k, r)) => (k, Some(r)),
            None => (s, None),
        };
        match DatasetKind::from_name(name).ok_or_else(|| bad("unknown dataset kind"))? {
            DatasetKind::Collection => match rest {
                Some(p) if !p.is_empty() => Ok(DatasetSpec::Collection(PathBuf::from(p))),
                _ => Err(bad("collection needs a path")),
            },
            DatasetKind::FashionMnist => Ok(DatasetSpec::FashionMnist(PathBuf::from(
                rest.filter(|r| !r.is_empty())
                    .unwrap_or(eval::FASHION_MNIST_DIR),
            ))),
            DatasetKind::Fvecs => {
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
            DatasetKind::Lite0FashionMnist => match rest {
                None | Some("") => Ok(DatasetSpec::Lite0FashionMnist {
                    base: neural_set::FULL_BASE,
                }),
                Some(n) => match n.trim().parse::<usize>() {
                    Ok(base) if (1..=neural_set::FULL_BASE).contains(&base) => {
                        Ok(DatasetSpec::Lite0FashionMnist { base })
                    }
                    _ => Err(bad(&format!(
                        "{} takes N, the base images, from 1 to {}",
                        neural_set::NAME,
                        neural_set::FULL_BASE
                    ))),
                },
            },
            DatasetKind::Synthetic => {
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
/// The neural-embedding set is read from its cache or made (no progress bar; see [`load_with_progress`]).
pub fn load(spec: &DatasetSpec, holdout: usize) -> Result<Dataset> {
    load_with_progress(spec, holdout, false)
}

/// [`load`], with a progress bar on stderr while the neural-embedding set is embedded when `progress`.
pub fn load_with_progress(spec: &DatasetSpec, holdout: usize, progress: bool) -> Result<Dataset> {
    match spec {
        DatasetSpec::Lite0FashionMnist { base } => load_neural(
            &NeuralSpec::new(*base),
            &neural_set::default_cache_root(),
            progress,
        )
        .map(|(ds, _)| ds),
        DatasetSpec::FashionMnist(dir) => load_fashion_mnist(dir),
        DatasetSpec::Fvecs {
            base,
            query,
            ground_truth,
        } => {
            let base_rows = eval::read_fvecs(base)?;
            let queries = eval::read_fvecs(query)?;
            let dim = base_rows.dim;
            if queries.dim != dim {
                return Err(BenchError::bad_file(
                    query,
                    format!("queries have dimension {}, base has {dim}", queries.dim),
                ));
            }
            let gt = match ground_truth {
                Some(p) => Some(eval::read_ivecs(p)?.id_rows()),
                None => None,
            };
            Ok(Dataset {
                name: base
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| DatasetKind::Fvecs.name().into()),
                dim,
                metric: Metric::L2,
                ids: (0..base_rows.len() as u64).collect(),
                base: base_rows.values,
                queries: queries.values,
                ground_truth: gt,
                home: base.parent().map(Path::to_path_buf),
                fingerprint: None,
            })
        }
        DatasetSpec::Synthetic { n, dim, clusters } => {
            let data = ClusteredSpec {
                n: *n,
                queries: holdout.max(1),
                dim: *dim,
                clusters: *clusters,
                sigma: SYNTHETIC_SIGMA,
                seed: SYNTHETIC_SEED,
            }
            .generate();
            Ok(Dataset {
                name: format!("{}-{n}-{dim}-{clusters}", DatasetKind::Synthetic.name()),
                dim: *dim,
                metric: Metric::L2,
                ids: (0..*n as u64).collect(),
                base: data.base,
                queries: data.queries,
                ground_truth: None,
                home: None,
                fingerprint: None,
            })
        }
        DatasetSpec::Collection(path) => load_collection(path, holdout),
    }
}

/// The collection at `path` as a dataset with `holdout_n` queries removed from the base (see
/// [`collection::holdout`]).
fn load_collection(path: &Path, holdout_n: usize) -> Result<Dataset> {
    let (ids, matrix, dim, metric) = collection::embeddings(path)?;
    let n = ids.len();
    if n < 2 {
        return Err(BenchError::Invalid { reason: format!(
            "{}: the collection holds {n} vectors; index more images first (at least k + 1 are needed)",
            path.display()
        ) });
    }
    let fp = collection::fingerprint(&ids, &matrix);
    let split = collection::holdout(&ids, &matrix, dim, holdout_n);
    if split.query_ids.len() < holdout_n {
        tracing::info!(
            requested = holdout_n,
            held_out = split.query_ids.len(),
            "a collection keeps at least half of its vectors in the base"
        );
    }
    let (dir, folder) = collection::location(path);
    Ok(Dataset {
        name: format!("collection-{}", sanitize(&folder)),
        dim,
        metric,
        ids: split.base_ids,
        base: split.base,
        queries: split.queries,
        ground_truth: None,
        home: Some(dir),
        fingerprint: Some(fp),
    })
}

/// The neural-embedding set `spec`, cached under `cache_root` (see [`neural_set::load_or_make`]), and whether it
/// was read from the cache or embedded. Its ground truth is cached in its folder.
pub fn load_neural(
    spec: &NeuralSpec,
    cache_root: &Path,
    progress: bool,
) -> Result<(Dataset, neural_set::Origin)> {
    let set = neural_set::load_or_make(spec, cache_root, progress)?;
    let n = set.base.len() / set.dim;
    Ok((
        Dataset {
            name: format!("{}-{n}", neural_set::NAME),
            dim: set.dim,
            metric: Metric::Cosine,
            ids: (0..n as u64).collect(),
            base: set.base,
            queries: set.queries,
            ground_truth: None,
            home: Some(set.dir),
            fingerprint: Some(set.key[..16].to_string()),
        },
        set.origin,
    ))
}

/// Fashion-MNIST as ann-benchmarks measures it: pixel values 0 to 255, training images as the base, test
/// images as the queries.
fn load_fashion_mnist(dir: &Path) -> Result<Dataset> {
    for file in [eval::FASHION_MNIST_TRAIN, eval::FASHION_MNIST_TEST] {
        let f = dir.join(file);
        if !f.exists() {
            return Err(BenchError::bad_file(
                f,
                "not found; install Debian's dataset-fashion-mnist or pass fashion-mnist:DIR with the IDX .gz files",
            ));
        }
    }
    let fm = FashionMnist::read(dir)?;
    Ok(Dataset {
        name: DatasetKind::FashionMnist.name().into(),
        dim: fm.train.dim,
        metric: Metric::L2,
        ids: (0..fm.train.len() as u64).collect(),
        base: fm.train.vectors(PixelScale::Bytes, usize::MAX),
        queries: fm.test.vectors(PixelScale::Bytes, usize::MAX),
        ground_truth: None,
        home: Some(dir.to_path_buf()),
        fingerprint: None,
    })
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
    write_atomic(
        &dir.join("base.fvecs"),
        &eval::encode_fvecs(ds.dim, &ds.base),
    )?;
    write_atomic(
        &dir.join("query.fvecs"),
        &eval::encode_fvecs(ds.dim, &ds.queries),
    )?;
    write_atomic(&dir.join("gt.ivecs"), &eval::encode_ivecs(&gt_rows))?;
    let meta = serde_json::json!({"name": ds.name, "metric": ds.metric, "dim": ds.dim, "n_base": ds.n_base(), "n_queries": ds.n_queries()});
    write_atomic(&dir.join("dataset.json"), meta.to_string().as_bytes())
}
