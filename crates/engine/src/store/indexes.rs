//! The collection's indexes: the configs a run maintains, and building one from the embedding matrix.
//! Where they are saved and how a reader finds them: [`crate::store::generation`].

use crate::store::matrix::Matrix;
use crate::types::error::Result;
use vsearch_index::{IndexConfig, IndexKind, Metric, Quantization, VectorIndex};

/// Opened indexes by kind.
pub type IndexSet = Vec<(IndexKind, Box<dyn VectorIndex>)>;

/// Builds one index from the matrix rows of `ids`.
pub fn build_from_matrix(
    config: &IndexConfig,
    metric: Metric,
    matrix: &Matrix,
    ids: &[u64],
) -> Result<Box<dyn VectorIndex>> {
    let vectors = matrix.gather(ids)?;
    Ok(vsearch_index::build(
        config,
        matrix.dim(),
        metric,
        ids,
        &vectors,
    )?)
}

/// Builds one index per config over `ids` (no index at all when `ids` is empty).
pub fn build_all(
    configs: &[IndexConfig],
    metric: Metric,
    matrix: &Matrix,
    ids: &[u64],
) -> Result<IndexSet> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    configs
        .iter()
        .map(|config| {
            tracing::info!(
                "building the {} index over {} vectors",
                config.kind(),
                ids.len()
            );
            Ok((
                config.kind(),
                build_from_matrix(config, metric, matrix, ids)?,
            ))
        })
        .collect()
}

/// The index configs of a run: the collection's (or every kind's defaults for a new collection), with
/// `replace` instead when given (keeping the parameters already in force for kinds it names), then
/// the kinds of `add` that are missing, at their defaults; with `quantization` set on the HNSW index
/// when given.
pub fn configs_for_run(
    existing: Option<&[IndexConfig]>,
    replace: &[IndexKind],
    add: &[IndexKind],
    quantization: Option<Option<Quantization>>,
) -> Vec<IndexConfig> {
    let current = |k: IndexKind| {
        existing
            .and_then(|cs| cs.iter().find(|c| c.kind() == k).copied())
            .unwrap_or_else(|| IndexConfig::default_for(k))
    };
    let mut configs: Vec<IndexConfig> = if replace.is_empty() {
        existing.map(<[IndexConfig]>::to_vec).unwrap_or_else(|| {
            IndexKind::DEFAULT_SET
                .iter()
                .map(|&k| IndexConfig::default_for(k))
                .collect()
        })
    } else {
        Vec::new()
    };
    for &k in replace.iter().chain(add) {
        if !configs.iter().any(|c| c.kind() == k) {
            configs.push(current(k));
        }
    }
    if let Some(quantization) = quantization {
        for config in &mut configs {
            if let IndexConfig::Hnsw(params) = config {
                params.quantization = quantization;
            }
        }
    }
    configs
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndexKind::{Flat, Hnsw, Ivf};

    fn kinds(configs: &[IndexConfig]) -> Vec<IndexKind> {
        configs.iter().map(IndexConfig::kind).collect()
    }

    #[test]
    fn a_run_keeps_replaces_or_adds_index_kinds() {
        assert_eq!(
            kinds(&configs_for_run(None, &[], &[], None)),
            [Hnsw, Ivf, Flat]
        );
        let flat_only = [IndexConfig::Flat];
        assert_eq!(
            kinds(&configs_for_run(Some(&flat_only), &[], &[], None)),
            [Flat]
        );
        assert_eq!(
            kinds(&configs_for_run(Some(&flat_only), &[Ivf], &[], None)),
            [Ivf]
        );
        assert_eq!(
            kinds(&configs_for_run(Some(&flat_only), &[], &[Ivf, Flat], None)),
            [Flat, Ivf]
        );
        assert_eq!(
            kinds(&configs_for_run(
                Some(&flat_only),
                &[Hnsw, Hnsw],
                &[Flat],
                None
            )),
            [Hnsw, Flat]
        );
    }

    #[test]
    fn a_run_sets_or_keeps_the_hnsw_quantization() {
        let hnsw = |configs: &[IndexConfig]| {
            configs.iter().find_map(|c| match c {
                IndexConfig::Hnsw(p) => Some(p.quantization),
                _ => None,
            })
        };
        let on = configs_for_run(None, &[], &[], Some(Some(Quantization::Int8)));
        assert_eq!(hnsw(&on), Some(Some(Quantization::Int8)));
        assert_eq!(kinds(&on), [Hnsw, Ivf, Flat]);
        // Kept by a run that does not say, turned off by one that does.
        assert_eq!(
            hnsw(&configs_for_run(Some(&on), &[], &[], None)),
            Some(Some(Quantization::Int8))
        );
        assert_eq!(
            hnsw(&configs_for_run(Some(&on), &[], &[], Some(None))),
            Some(None)
        );
    }
}
