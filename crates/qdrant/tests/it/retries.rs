//! Failures that may pass are retried with backoff; a server that stays silent gives a typed timeout
//! after the configured attempts; writes survive a server restart.

use crate::support::{config, created, Proxy, VECTOR};
use std::time::{Duration, Instant};
use vsearch_qdrant::{Point, Store, StoreError};
use vsearch_testkit::qdrant;

fn points(range: std::ops::Range<u128>) -> Vec<Point> {
    range
        .map(|i| Point {
            id: uuid::Uuid::from_u128(i + 1),
            vector: (0..crate::support::DIM)
                .map(|d| ((i as usize * 7 + d) % 11) as f32 + 1.0)
                .collect(),
            payload: serde_json::json!({ "n": i as u64 })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        })
        .collect()
}

#[test]
fn a_stalled_server_times_out_after_every_attempt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    created(node.url(), "stalled");
    let proxy = Proxy::start(node.grpc);
    let store = Store::connect(config(
        proxy.url(),
        "stalled",
        3,
        Duration::from_millis(300),
    ))
    .expect("connect through the proxy");
    assert!(store.exists().expect("answers before the stall"));

    proxy.stall();
    let start = Instant::now();
    match store.count(None) {
        Err(StoreError::Timeout {
            attempts, seconds, ..
        }) => {
            assert_eq!(attempts, 3);
            assert!((seconds - 0.3).abs() < 1e-9, "{seconds}");
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    // Three waits of 300 ms, two pauses of 50 and 100 ms between them.
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    // A write that times out every time is a Write error that says what was kept.
    match store.upsert(VECTOR, points(0..5), 10) {
        Err(StoreError::Write {
            batch: 5,
            written: 10,
            attempts: 3,
            ..
        }) => {}
        other => panic!("expected Write after 3 attempts, got {other:?}"),
    }

    proxy.resume();
    assert!(store.exists().expect("answers again after the stall"));
}

#[test]
fn a_call_is_retried_until_the_server_answers_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    created(node.url(), "patient");
    let proxy = Proxy::start(node.grpc);
    let store = Store::connect(config(
        proxy.url(),
        "patient",
        8,
        Duration::from_millis(300),
    ))
    .expect("connect through the proxy");
    proxy.stall();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(700));
            proxy.resume();
        });
        store
            .upsert(VECTOR, points(0..20), 0)
            .expect("written once the server answers");
    });
    // At least two attempts timed out before the stall ended.
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(store.count(None).expect("count"), 20);
}

#[test]
fn writes_survive_a_server_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(mut node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let store = created(node.url(), "restart");
    store
        .upsert(VECTOR, points(0..100), 0)
        .expect("first batch");
    node.kill();
    // Down: the default retries (about 11 s of waiting) outlast a restart.
    let mut config = config(node.url(), "restart", 8, Duration::from_secs(5));
    config.retry.max_wait = Duration::from_secs(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            node.restart();
        });
        let down = Store::connect(config).expect("connects once the server is back");
        down.upsert(VECTOR, points(100..200), 100)
            .expect("second batch after the restart");
    });
    assert_eq!(store.count(None).expect("count"), 200);
}
