//! Filtered search (`VectorIndex::search_filtered`) in every index kind, and removing an id then adding
//! it again with a new vector.
//!
//! On 20,000 clustered vectors (d = 64, cosine and L2) with filters keeping 10% and 1% of the ids (random
//! subsets, and whole clusters): only allowed ids come back, exactly `k` of them when `k` are allowed, flat
//! equals a brute force over the allowed vectors and the approximate kinds reach recall@10 >= 0.95
//! against it. On a smaller set: filters honour deletes and survive save/load, empty filters and filters
//! naming unknown ids are fine, and an id removed then added again is found by its new vector only.
//! `cargo test --release -p vsearch-index --test it filtered:: -- --nocapture` prints the recall figures.

use crate::common::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use vsearch_index::eval::ClusteredSpec;
use vsearch_index::{
    build, ivf, load, Hit, HnswParams, IdFilter, IndexConfig, IvfCodes, IvfParams, Metric,
    SearchParams, VectorIndex,
};

const K: usize = 10;

/// A clustered data set with the cluster of every base row; ids are row numbers.
struct Data {
    dim: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
    labels: Vec<usize>,
}

impl Data {
    fn new(n: usize, queries: usize, dim: usize, clusters: usize, seed: u64) -> Self {
        let (data, labels) = ClusteredSpec {
            n,
            queries,
            dim,
            clusters,
            sigma: SIGMA,
            seed,
        }
        .generate_labelled();
        Self {
            dim,
            base: data.base,
            queries: data.queries,
            labels,
        }
    }

    fn n(&self) -> usize {
        self.base.len() / self.dim
    }

    fn row(&self, id: u64) -> &[f32] {
        let id = id as usize;
        &self.base[id * self.dim..(id + 1) * self.dim]
    }

    fn queries(&self) -> impl Iterator<Item = &[f32]> {
        self.queries.chunks_exact(self.dim)
    }

    /// A random `share` of the ids.
    fn random_filter(&self, share: f64, seed: u64) -> IdFilter {
        let mut all = ids(self.n());
        all.shuffle(&mut StdRng::seed_from_u64(seed));
        all.truncate((self.n() as f64 * share).round() as usize);
        IdFilter::from_ids(all)
    }

    /// The ids of the base rows drawn around the given clusters.
    fn cluster_filter(&self, clusters: std::ops::Range<usize>) -> IdFilter {
        IdFilter::from_ids(
            self.labels
                .iter()
                .enumerate()
                .filter(|(_, c)| clusters.contains(c))
                .map(|(id, _)| id as u64),
        )
    }

    /// The four filters of the recall tests: random 10% and 1%, 10 clusters of 100 and 1 cluster.
    fn filters(&self) -> Vec<(&'static str, IdFilter)> {
        vec![
            ("random 10%", self.random_filter(0.10, 11)),
            ("random 1%", self.random_filter(0.01, 12)),
            ("10 clusters", self.cluster_filter(0..10)),
            ("1 cluster", self.cluster_filter(37..38)),
        ]
    }
}

/// `v` scaled to unit length, in f64.
fn unit(v: &[f32]) -> Vec<f64> {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    v.iter().map(|&x| f64::from(x) / norm).collect()
}

/// Brute force, written independently of the indexes: every allowed row of `data` not in `removed`
/// scored in f64, the `k` best ids (ties by id).
fn brute_force(
    data: &Data,
    metric: Metric,
    query: &[f32],
    filter: &IdFilter,
    removed: &[u64],
    k: usize,
) -> Vec<u64> {
    let q = unit(query);
    let mut scored: Vec<(f64, u64)> = filter
        .ids()
        .filter(|&id| (id as usize) < data.n() && !removed.contains(&id))
        .map(|id| {
            let v = data.row(id);
            let badness = match metric {
                Metric::Cosine => -unit(v).iter().zip(&q).map(|(a, b)| a * b).sum::<f64>(),
                Metric::L2 => v
                    .iter()
                    .zip(query)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum(),
            };
            (badness, id)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, id)| id).collect()
}

/// The kinds with parameters for the small set (3,000 vectors): 32 lists, 6-bit PQ codes, SQ8, 4-bit PQ
/// fast-scan.
fn small_kinds() -> [(&'static str, IndexConfig); 6] {
    let ivf = |codes| {
        IndexConfig::Ivf(IvfParams {
            nlist: Some(32),
            nprobe: 8,
            codes,
            rerank: true,
            train_size: None,
        })
    };
    [
        ("flat", IndexConfig::Flat),
        ("hnsw", IndexConfig::Hnsw(HnswParams::default())),
        ("ivf-flat", ivf(IvfCodes::Flat)),
        ("ivf-pq", ivf(IvfCodes::Pq { m: 8, bits: 6 })),
        ("ivf-sq8", ivf(IvfCodes::Sq8)),
        ("ivf-pq4fs", ivf(IvfCodes::PqFastScan { m: 16 })),
    ]
}

fn small_data() -> Data {
    Data::new(3_000, 30, 32, 20, 5)
}

fn search(index: &dyn VectorIndex, q: &[f32], k: usize, filter: &IdFilter) -> Vec<Hit> {
    index
        .search_filtered(q, k, &SearchParams::default(), filter)
        .expect("filtered search")
}

fn id_list(hits: &[Hit]) -> Vec<u64> {
    hits.iter().map(|h| h.id).collect()
}

/// Builds `kind` on the 20k set for both metrics and checks every filter: only allowed ids, exactly `k`
/// of them, and recall@10 >= 0.95 against brute force (the same ids for flat).
fn check_filtered_recall(name: &str, config_of: impl Fn(usize) -> IndexConfig, exact: bool) {
    let data = Data::new(20_000, 100, 64, 100, 21);
    let filters = data.filters();
    for metric in [Metric::Cosine, Metric::L2] {
        let index = build(
            &config_of(data.dim),
            data.dim,
            metric,
            &ids(data.n()),
            &data.base,
        )
        .expect("build");
        for (filter_name, filter) in &filters {
            let mut found = Vec::new();
            let mut truth = Vec::new();
            for (qi, q) in data.queries().enumerate() {
                let hits = search(index.as_ref(), q, K, filter);
                let want = brute_force(&data, metric, q, filter, &[], K);
                assert!(
                    hits.iter().all(|h| filter.contains(h.id)),
                    "{name} {metric:?} {filter_name} query {qi}: an id the filter refuses came back"
                );
                assert_eq!(
                    hits.len(),
                    K.min(filter.len()),
                    "{name} {metric:?} {filter_name} query {qi}: k results when k are allowed"
                );
                if exact {
                    assert_eq!(
                        id_list(&hits),
                        want,
                        "{name} {metric:?} {filter_name} query {qi}: exact search differs from brute force"
                    );
                }
                found.push(hits);
                truth.push(want);
            }
            let r = recall(&found, &truth, K);
            eprintln!(
                "[{name}] {metric:?} filter {filter_name} ({} ids): recall@10 {r:.3}",
                filter.len()
            );
            assert!(
                r >= 0.95,
                "{name} {metric:?} {filter_name}: filtered recall@10 {r} < 0.95"
            );
        }
    }
}

#[test]
fn flat_filtered_equals_brute_force() {
    check_filtered_recall("flat", |_| IndexConfig::Flat, true);
}

#[test]
fn hnsw_filtered_recall() {
    check_filtered_recall("hnsw", |_| IndexConfig::Hnsw(HnswParams::default()), false);
}

#[test]
fn ivf_flat_filtered_recall() {
    check_filtered_recall(
        "ivf-flat",
        |_| IndexConfig::Ivf(ivf::default_flat_params()),
        false,
    );
}

#[test]
fn ivf_pq_filtered_recall() {
    check_filtered_recall(
        "ivf-pq",
        |dim| IndexConfig::Ivf(ivf::default_pq_params(dim)),
        false,
    );
}

#[test]
fn ivf_sq8_filtered_recall() {
    check_filtered_recall(
        "ivf-sq8",
        |_| IndexConfig::Ivf(ivf::default_sq8_params()),
        false,
    );
}

#[test]
fn ivf_pq4fs_filtered_recall() {
    check_filtered_recall(
        "ivf-pq4fs",
        |dim| IndexConfig::Ivf(ivf::default_pq4fs_params(dim)),
        false,
    );
}

#[test]
fn filters_honour_deletes_and_survive_save_and_load() {
    let data = small_data();
    let n = data.n();
    let filter = data.random_filter(0.10, 3);
    for (name, config) in small_kinds() {
        for metric in [Metric::Cosine, Metric::L2] {
            let mut index = build(&config, data.dim, metric, &ids(n), &data.base).expect("build");
            // Remove what the filtered searches find, and every third allowed id.
            let mut removed: Vec<u64> = data
                .queries()
                .flat_map(|q| id_list(&search(index.as_ref(), q, K, &filter)))
                .collect();
            removed.extend(filter.ids().step_by(3));
            removed.sort_unstable();
            removed.dedup();
            index.remove(&removed).expect("remove");
            let live_allowed = filter
                .ids()
                .filter(|id| removed.binary_search(id).is_err())
                .count();
            assert!(live_allowed >= K);
            let check = |index: &dyn VectorIndex, when: &str| -> Vec<Vec<Hit>> {
                let mut found = Vec::new();
                let mut truth = Vec::new();
                for (qi, q) in data.queries().enumerate() {
                    let hits = search(index, q, K, &filter);
                    assert!(
                        hits.iter()
                            .all(|h| filter.contains(h.id) && removed.binary_search(&h.id).is_err()),
                        "{name} {metric:?} {when} query {qi}: a removed or refused id came back"
                    );
                    assert_eq!(
                        hits.len(),
                        K,
                        "{name} {metric:?} {when} query {qi}: k results"
                    );
                    truth.push(brute_force(&data, metric, q, &filter, &removed, K));
                    found.push(hits);
                }
                let r = recall(&found, &truth, K);
                assert!(r >= 0.95, "{name} {metric:?} {when}: recall@10 {r} < 0.95");
                found
            };
            let before = check(index.as_ref(), "after removal");
            let dir = tempfile::tempdir().expect("temporary directory");
            let path = dir.path().join("index");
            index.save(&path).expect("save");
            let loaded = load(&path).expect("load");
            let after = check(loaded.as_ref(), "after reload");
            assert_eq!(
                before, after,
                "{name} {metric:?}: filtered results differ after save and load"
            );
        }
    }
}

#[test]
fn empty_small_and_unknown_filters() {
    let data = small_data();
    let n = data.n() as u64;
    let q = data.queries().next().expect("a query");
    for (name, config) in small_kinds() {
        for metric in [Metric::Cosine, Metric::L2] {
            let index =
                build(&config, data.dim, metric, &ids(n as usize), &data.base).expect("build");
            let plain = |filter: &IdFilter, k: usize| search(index.as_ref(), q, k, filter);
            // An empty filter: no hits, not an error.
            assert!(
                plain(&IdFilter::default(), K).is_empty(),
                "{name} {metric:?}: empty filter"
            );
            // Only ids the index does not hold: no hits.
            let unknown = IdFilter::from_ids([n, n + 5, 1 << 20]);
            assert!(
                plain(&unknown, K).is_empty(),
                "{name} {metric:?}: unknown ids"
            );
            // Three known ids among unknown ones: exactly those three, best first.
            let three = IdFilter::from_ids([3, 1_500, 2_999, n, n + 77, 1 << 20]);
            let hits = plain(&three, K);
            assert_eq!(
                id_list(&hits),
                brute_force(&data, metric, q, &three, &[], K),
                "{name} {metric:?}: three known ids"
            );
            // 50 random ids (more than HNSW's ef, fewer than k = 60): all of them.
            let fifty = data.random_filter(50.0 / n as f64, 9);
            assert_eq!(fifty.len(), 50);
            let hits = plain(&fifty, 60);
            assert_eq!(
                hits.len(),
                50,
                "{name} {metric:?}: every allowed id when k exceeds them"
            );
            assert!(hits.iter().all(|h| fifty.contains(h.id)));
            // k above HNSW's ef_search: still k results.
            let tenth = data.random_filter(0.10, 4);
            let hits = plain(&tenth, 50);
            assert_eq!(hits.len(), 50, "{name} {metric:?}: k = 50");
            assert!(hits.iter().all(|h| tenth.contains(h.id)));
            // A filter allowing every id and more: the unfiltered search's results for flat, k for all.
            let all = IdFilter::from_ids(0..n + 100);
            let hits = plain(&all, K);
            assert_eq!(hits.len(), K, "{name} {metric:?}: all ids");
            if name == "flat" {
                let unfiltered = index
                    .search(q, K, &SearchParams::default())
                    .expect("search");
                assert_eq!(
                    hits, unfiltered,
                    "flat {metric:?}: all allowed equals unfiltered"
                );
            }
        }
    }
}

/// Removes `moved` and adds them again with vectors from other clusters; checks that each new vector
/// finds its id first (unfiltered and filtered) and that the old vector no longer finds it.
fn check_moved(
    name: &str,
    metric: Metric,
    index: &dyn VectorIndex,
    data: &Data,
    moved: &[(u64, Vec<f32>)],
    when: &str,
) {
    let params = SearchParams::default();
    for (id, new) in moved {
        let hits = index.search(new, K, &params).expect("search");
        assert_eq!(
            hits.first().map(|h| h.id),
            Some(*id),
            "{name} {metric:?} {when}: the new vector of {id} does not find it first"
        );
        let only = IdFilter::from_ids([*id, 0, 1, 2]);
        let hits = search(index, new, 1, &only);
        assert_eq!(
            id_list(&hits),
            [*id],
            "{name} {metric:?} {when}: filtered search for the new vector of {id}"
        );
        let hits = index.search(data.row(*id), K, &params).expect("search");
        assert!(
            hits.iter().all(|h| h.id != *id),
            "{name} {metric:?} {when}: the old vector of {id} still finds it"
        );
    }
    assert_eq!(index.len(), data.n(), "{name} {metric:?} {when}: len");
}

#[test]
fn remove_then_add_the_same_id_with_a_new_vector() {
    let data = small_data();
    let n = data.n();
    // Each moved id gets the vector of a row from another cluster, slightly moved.
    let moved: Vec<(u64, Vec<f32>)> = [7u64, 8, 1_234, 2_999]
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let other = (0..n as u64)
                .rev()
                .filter(|&r| data.labels[r as usize] != data.labels[id as usize])
                .nth(i * 10)
                .expect("another cluster");
            let new = data.row(other).iter().map(|x| x * 1.01 + 0.01).collect();
            (id, new)
        })
        .collect();
    let moved_ids: Vec<u64> = moved.iter().map(|(id, _)| *id).collect();
    let moved_vectors: Vec<f32> = moved.iter().flat_map(|(_, v)| v.clone()).collect();
    for (name, config) in small_kinds() {
        for metric in [Metric::Cosine, Metric::L2] {
            let mut index = build(&config, data.dim, metric, &ids(n), &data.base).expect("build");
            index.remove(&moved_ids).expect("remove");
            index
                .add(&moved_ids, &moved_vectors)
                .expect("add the same ids again");
            check_moved(
                name,
                metric,
                index.as_ref(),
                &data,
                &moved,
                "after remove and add",
            );
            // Twice over: remove and add again.
            index.remove(&moved_ids).expect("remove again");
            index.add(&moved_ids, &moved_vectors).expect("add again");
            check_moved(
                name,
                metric,
                index.as_ref(),
                &data,
                &moved,
                "after a second round",
            );
            let dir = tempfile::tempdir().expect("temporary directory");
            let path = dir.path().join("index");
            index.save(&path).expect("save");
            let mut loaded = load(&path).expect("load");
            check_moved(name, metric, loaded.as_ref(), &data, &moved, "after reload");
            loaded.compact().expect("compact");
            assert_eq!(loaded.tombstones(), 0);
            check_moved(
                name,
                metric,
                loaded.as_ref(),
                &data,
                &moved,
                "after compaction",
            );
        }
    }
}
