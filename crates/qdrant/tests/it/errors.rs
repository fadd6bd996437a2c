//! Each failure a user can meet comes back as its typed error, with the fix in its message.

use crate::support::{config, created, spec, VECTOR};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use vsearch_qdrant::{CollectionLayout, Distance, Point, Store, StoreError, VectorSpec};
use vsearch_testkit::qdrant;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn no_server_is_unreachable_after_the_retries() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let start = Instant::now();
    let err = Store::connect(config(url.clone(), "c", 3, Duration::from_secs(2)))
        .err()
        .expect("no server listens there");
    match &err {
        StoreError::Unreachable { url: got, .. } => assert_eq!(got, &url),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&url) && message.contains("Is the server running"),
        "{message}"
    );
    // Three attempts wait 50 + 100 ms between them: the retries ran, and gave up quickly.
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(150), "gave up after {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_malformed_url_is_a_bad_url() {
    let err = Store::connect(config(
        "127.0.0.1 6334".into(),
        "c",
        1,
        Duration::from_secs(2),
    ))
    .err()
    .expect("not a URL");
    assert!(matches!(err, StoreError::BadUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("http://127.0.0.1:6334"), "{err}");
}

#[test]
fn collection_errors_are_typed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let missing =
        Store::connect(config(node.url(), "absent", 2, Duration::from_secs(10))).expect("connect");
    assert!(!missing.exists().expect("exists"));
    for err in [missing.info().map(drop), missing.check(&spec())] {
        match err {
            Err(StoreError::NoSuchCollection { collection }) => assert_eq!(collection, "absent"),
            other => panic!("expected NoSuchCollection, got {other:?}"),
        }
    }

    let store = created(node.url(), "typed");
    // A second `ensure` finds it and checks it.
    assert!(!store
        .ensure(&spec(), &CollectionLayout::default())
        .expect("ensure again"));
    let wider = VectorSpec { dim: 16, ..spec() };
    match store.check(&wider) {
        Err(e @ StoreError::Mismatch { .. }) => {
            let m = e.to_string();
            assert!(m.contains("8-d cosine") && m.contains("16-d cosine"), "{m}");
        }
        other => panic!("expected Mismatch, got {other:?}"),
    }
    let euclid = VectorSpec {
        distance: Distance::Euclid,
        ..spec()
    };
    assert!(matches!(
        store.check(&euclid),
        Err(StoreError::Mismatch { .. })
    ));
    let other = VectorSpec {
        name: "other-model".into(),
        ..spec()
    };
    match store.check(&other) {
        Err(e @ StoreError::NoSuchVector { .. }) => {
            assert!(
                e.to_string().contains(&format!("`{VECTOR}` (8-d cosine)")),
                "{e}"
            );
        }
        other => panic!("expected NoSuchVector, got {other:?}"),
    }
    // `ensure` adds another model's vector beside the first.
    assert!(!store
        .ensure(&other, &CollectionLayout::default())
        .expect("add a vector"));
    let names: Vec<String> = store
        .vectors()
        .expect("vectors")
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, vec!["other-model".to_string(), VECTOR.to_string()]);

    store.drop_collection().expect("drop");
    assert!(!store.exists().expect("exists"));
}

/// Qdrant refusing a write (a vector of the wrong size) is permanent: one attempt, no retries, and the
/// error says how many points of the run were written before it.
#[test]
fn a_refused_write_is_not_retried_and_counts_what_was_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(node) = qdrant::single(&tmp.path().join("qdrant")) else {
        return;
    };
    let store = created(node.url(), "refused");
    let bad = vec![Point {
        id: uuid::Uuid::from_u128(1),
        vector: vec![0.5; 3],
        payload: Default::default(),
    }];
    match store.upsert(VECTOR, bad, 40) {
        Err(e @ StoreError::Write { .. }) => {
            let StoreError::Write {
                batch,
                written,
                attempts,
                ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!((*batch, *written, *attempts), (1, 40, 1), "{e}");
            assert!(
                e.to_string()
                    .contains("run the same command again to resume"),
                "{e}"
            );
        }
        other => panic!("expected Write, got {other:?}"),
    }
    assert_eq!(store.count(None).expect("count"), 0);
}
