//! Qdrant as a peer of the sweep: the same base vectors, queries and ground truth, searched by a Qdrant
//! server's HNSW over gRPC (through the engine's Qdrant collection, as `vsearch search --qdrant` does),
//! one query at a time over the run's threads and in batches (`query_batch`).
//!
//! The collection is created for the run (and dropped first when it exists) with the HNSW build
//! parameters of vsearch's default graph and an indexing threshold low enough that every segment gets a
//! graph, so graphs are compared with graphs. Build time is from the first write until Qdrant reports
//! every vector indexed. Memory and disk are the server's, not measured here (0 in the results).

use crate::dataset::Dataset;
use crate::error::{BenchError, Result};
use crate::measure::percentile;
use crate::results::{Params, Point, QueryMode};
use rayon::prelude::*;
use serde_json::json;
use std::time::{Duration, Instant};
use vsearch_engine::qdrant::{CollectionLayout, Distance, Point as QdrantPoint, VectorSpec};
use vsearch_engine::{
    DeviceSpec, IndexKind, ModelSpec, QdrantCollection, QdrantOpen, QdrantTarget, Query,
    QueryOptions, SearchParams,
};
use vsearch_index::eval::recall_at_k;
use vsearch_index::hnsw::{DEFAULT_EF_CONSTRUCTION, DEFAULT_M};
use vsearch_index::Metric;

/// The named vector the benchmark writes.
const VECTOR: &str = "bench";

/// Queries per `query_batch` call.
const BATCH: usize = 64;

/// Which Qdrant server, and the `hnsw_ef` values to sweep.
#[derive(Debug, Clone)]
pub struct QdrantPeer {
    pub target: QdrantTarget,
    /// Empty: the sweep grid's `ef_search` values.
    pub ef_search: Vec<usize>,
}

fn engine(e: impl std::fmt::Display) -> BenchError {
    BenchError::Engine {
        reason: format!("Qdrant: {e}"),
    }
}

/// Loads `ds` into a fresh collection and measures recall@k, QPS and latency per `hnsw_ef`, in both
/// query modes.
pub fn run(
    ds: &Dataset,
    truth: &[Vec<u64>],
    k: usize,
    peer: &QdrantPeer,
    pool: &rayon::ThreadPool,
) -> Result<Vec<Point>> {
    let store = peer.target.connect().map_err(engine)?;
    if store.exists().map_err(engine)? {
        store.drop_collection().map_err(engine)?;
    }
    let spec = VectorSpec {
        name: VECTOR.into(),
        dim: ds.dim,
        distance: match ds.metric {
            Metric::Cosine => Distance::Cosine,
            Metric::L2 => Distance::Euclid,
        },
    };
    let layout = CollectionLayout {
        hnsw: Some((DEFAULT_M as u64, DEFAULT_EF_CONSTRUCTION as u64)),
        indexing_threshold_kb: Some(1),
        // Searches carry the takedown filter as served ones do; indexed, as in a collection vsearch makes.
        payload_indexes: vec![(
            vsearch_engine::qdrant::payload::BLOCKED_KEY.to_string(),
            "bool",
        )],
        ..CollectionLayout::default()
    };
    store.ensure(&spec, &layout).map_err(engine)?;
    let started = Instant::now();
    let rows: Vec<(u64, &[f32])> = ds.ids.iter().copied().zip(ds.base.chunks(ds.dim)).collect();
    for chunk in rows.chunks(1000) {
        let points = chunk
            .iter()
            .map(|(id, v)| QdrantPoint {
                id: uuid::Uuid::from_u128(*id as u128 + 1),
                vector: v.to_vec(),
                payload: [("path".to_string(), json!(id.to_string()))]
                    .into_iter()
                    .collect(),
            })
            .collect();
        store.upsert(VECTOR, points, 0).map_err(engine)?;
    }
    // Qdrant builds its graphs in the background.
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        if store.indexed(ds.n_base() as u64).map_err(engine)? {
            break;
        }
        if Instant::now() > deadline {
            return Err(engine("the collection was not indexed within an hour"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let build_s = started.elapsed().as_secs_f64();
    let collection = QdrantCollection::open(&QdrantOpen {
        target: peer.target.clone(),
        model: ModelSpec::Preset(VECTOR.into()),
        device: DeviceSpec::Cpu,
        root: None,
        records: None,
        load_model: false,
    })
    .map_err(engine)?;
    let queries: Vec<Vec<f32>> = ds.queries.chunks(ds.dim).map(<[f32]>::to_vec).collect();
    let ids = |results: Vec<vsearch_engine::SearchResult>| -> Vec<u64> {
        results
            .into_iter()
            .filter_map(|r| r.path.parse().ok())
            .collect()
    };
    let mut points = Vec::new();
    for &ef in &peer.ef_search {
        let options = QueryOptions {
            k,
            index: Some(IndexKind::Hnsw),
            params: SearchParams {
                ef_search: Some(ef),
                ..SearchParams::default()
            },
            ..QueryOptions::default()
        };
        // One at a time, over the run's threads.
        let t = Instant::now();
        let single: Vec<Result<(Vec<u64>, f64)>> = pool.install(|| {
            queries
                .par_iter()
                .with_max_len(1)
                .map(|q| {
                    let t = Instant::now();
                    let r = collection
                        .search(&Query::Vector(q.clone()), &options)
                        .map_err(engine)?;
                    Ok((ids(r.results), t.elapsed().as_secs_f64() * 1e3))
                })
                .collect()
        });
        let wall = t.elapsed().as_secs_f64();
        let (found, mut lat): (Vec<Vec<u64>>, Vec<f64>) = single
            .into_iter()
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        lat.sort_by(f64::total_cmp);
        let params: Params = [
            ("m".to_string(), json!(DEFAULT_M)),
            (
                "ef_construction".to_string(),
                json!(DEFAULT_EF_CONSTRUCTION),
            ),
            ("ef_search".to_string(), json!(ef)),
        ]
        .into_iter()
        .collect();
        let point = |mode, found: &[Vec<u64>], qps, lat: &[f64]| Point {
            library: "qdrant".into(),
            index: "hnsw".into(),
            params: params.clone(),
            recall: recall_at_k(found, truth, k),
            qps,
            p50_ms: percentile(lat, 50.0),
            p95_ms: percentile(lat, 95.0),
            p99_ms: percentile(lat, 99.0),
            build_s,
            disk_bytes: 0,
            memory_bytes: 0,
            rerank_bytes: None,
            rss_delta_bytes: None,
            mapped_bytes: None,
            mode: Some(mode),
        };
        points.push(point(
            QueryMode::Single,
            &found,
            queries.len() as f64 / wall,
            &lat,
        ));
        // Batched: BATCH queries per gRPC call, one call at a time.
        let t = Instant::now();
        let mut found = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(BATCH) {
            for r in collection.search_batch(chunk, &options).map_err(engine)? {
                found.push(ids(r));
            }
        }
        let wall = t.elapsed().as_secs_f64();
        points.push(point(
            QueryMode::Batch,
            &found,
            queries.len() as f64 / wall,
            &[],
        ));
    }
    Ok(points)
}
