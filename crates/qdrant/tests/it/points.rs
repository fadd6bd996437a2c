//! Batched writes come back as written: counts, vectors and payloads by id, deletes, payload updates, and
//! a query that finds a point by its own vector.

use crate::support::{created, DIM, VECTOR};
use vsearch_qdrant::{dense_vector, point_uuid, proto, Point};
use vsearch_testkit::qdrant;

fn vector(i: u128) -> Vec<f32> {
    // Pseudo-random directions (splitmix64 of the id and the coordinate): no two alike.
    (0..DIM as u64)
        .map(|d| {
            let mut z = (i as u64)
                .wrapping_mul(31)
                .wrapping_add(d)
                .wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn point(i: u128) -> Point {
    Point {
        id: uuid::Uuid::from_u128(i + 1),
        vector: vector(i),
        payload: serde_json::json!({ "n": i as u64, "folder": if i.is_multiple_of(2) { "even" } else { "odd" } })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }
}

fn normalised(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

#[test]
fn batches_are_written_read_updated_and_deleted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let store = created(node.url(), "batches");
    // Three batches as the engine writes them, the last one partial.
    let total = 2_500u128;
    let mut written = 0;
    for start in (0..total).step_by(1_000) {
        let batch: Vec<Point> = (start..(start + 1_000).min(total)).map(point).collect();
        let n = batch.len();
        store.upsert(VECTOR, batch, written).expect("upsert");
        written += n;
    }
    assert_eq!(store.count(None).expect("count"), total as u64);
    let even = proto::Filter::must([proto::Condition::matches("folder", "even".to_string())]);
    assert_eq!(store.count(Some(even)).expect("count even"), 1_250);

    // Vectors come back as written (Qdrant normalises cosine vectors on insert), payloads too.
    let ids: Vec<uuid::Uuid> = [0u128, 999, 1_000, 2_499]
        .iter()
        .map(|&i| uuid::Uuid::from_u128(i + 1))
        .collect();
    let got = store.get(&ids, Some(VECTOR)).expect("get");
    assert_eq!(got.len(), ids.len());
    for p in &got {
        let id = p.id.as_ref().and_then(point_uuid).expect("a uuid id");
        let i = id.as_u128() - 1;
        let v = dense_vector(p, VECTOR).expect("the vector");
        for (a, b) in v.iter().zip(normalised(&vector(i))) {
            assert!((a - b).abs() < 1e-6, "point {i}: {a} vs {b}");
        }
        let n = p.payload.get("n").and_then(|v| v.as_integer());
        assert_eq!(n, Some(i as i64));
    }
    // Every point is found, and the scroll pages through all of them once.
    let mut seen = std::collections::HashSet::new();
    store
        .scroll::<vsearch_qdrant::StoreError>(None, &["n"], None, |page| {
            for p in page {
                assert!(seen.insert(p.id.as_ref().and_then(point_uuid).expect("uuid")));
            }
            Ok(())
        })
        .expect("scroll");
    assert_eq!(seen.len(), total as usize);

    // A point's own vector finds it first.
    let request = proto::QueryPointsBuilder::new("batches")
        .query(vector(1_234))
        .using(VECTOR)
        .limit(3)
        .build();
    let hits = store.query(request).expect("query");
    assert_eq!(
        hits[0].id.as_ref().and_then(point_uuid),
        Some(uuid::Uuid::from_u128(1_235))
    );
    assert!((hits[0].score - 1.0).abs() < 1e-5, "{}", hits[0].score);

    // Payload updates keep the other keys; deletes remove exactly the ids given.
    let tagged: Vec<uuid::Uuid> = (0..10u128).map(|i| uuid::Uuid::from_u128(i + 1)).collect();
    let payload = serde_json::json!({ "blocked": true })
        .as_object()
        .cloned()
        .unwrap_or_default();
    store.set_payload(&tagged, payload).expect("set payload");
    let blocked = proto::Filter::must([proto::Condition::matches("blocked", true)]);
    assert_eq!(store.count(Some(blocked)).expect("count blocked"), 10);
    let first = store.get(&tagged[..1], None).expect("get");
    assert!(first[0].payload.contains_key("n") && first[0].payload.contains_key("folder"));
    let gone: Vec<uuid::Uuid> = (0..total)
        .step_by(5)
        .map(|i| uuid::Uuid::from_u128(i + 1))
        .collect();
    store.delete(&gone).expect("delete");
    assert_eq!(
        store.count(None).expect("count"),
        total as u64 - gone.len() as u64
    );
    assert!(store.existing(&gone).expect("existing").is_empty());
    assert_eq!(store.existing(&tagged).expect("existing").len(), 8);
}
