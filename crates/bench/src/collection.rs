//! Embeddings of an indexed folder (a `vsearch index` collection) as a dataset.

use crate::error::{BenchError, Result};
use std::path::Path;
use vsearch_index::Metric;

/// Ids, row-major embedding matrix, dimension and metric of the collection at `path`.
pub fn embeddings(path: &Path) -> Result<(Vec<u64>, Vec<f32>, usize, Metric)> {
    Err(BenchError::Engine(format!(
        "{}: reading a collection's embeddings without its model is not available in this build yet; \
         export them with fvecs and use --dataset fvecs:BASE,QUERY",
        path.display()
    )))
}
