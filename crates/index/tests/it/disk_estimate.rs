//! `IndexConfig::estimated_disk_bytes`, which a run checks free space against before it embeds anything,
//! never falls short of what a saved index takes and is not far above it, for every kind and size.

use crate::common::{clustered, ids};
use vsearch_index::config::{
    default_flat_params, default_pq4fs_params, default_pq_params, default_sq8_params,
};
use vsearch_index::{IndexConfig, Metric};

fn bytes_on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read the index folder")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum()
}

#[test]
fn the_estimate_covers_every_saved_index_within_1_5x() {
    for (n, dim) in [(500usize, 64usize), (4_000, 128)] {
        let (base, _) = clustered(n, 0, dim, 20, 5);
        for config in [
            IndexConfig::Flat,
            IndexConfig::Hnsw(Default::default()),
            IndexConfig::Ivf(default_flat_params()),
            IndexConfig::Ivf(default_pq_params(dim)),
            IndexConfig::Ivf(default_sq8_params()),
            IndexConfig::Ivf(default_pq4fs_params(dim)),
        ] {
            let index =
                vsearch_index::build(&config, dim, Metric::Cosine, &ids(n), &base).expect("build");
            let tmp = tempfile::tempdir().expect("tempdir");
            let dir = tmp.path().join("index");
            index.save(&dir).expect("save");
            let written = bytes_on_disk(&dir);
            let estimate = config.estimated_disk_bytes(n, dim);
            eprintln!("{config:?}, {n} x {dim}: {written} bytes written, {estimate} estimated");
            assert!(
                estimate >= written && (estimate as f64) <= 1.5 * written as f64 + 8192.0,
                "{config:?}, {n} x {dim}: estimated {estimate} for {written} bytes written"
            );
        }
    }
}
