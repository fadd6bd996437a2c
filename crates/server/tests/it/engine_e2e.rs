//! The real server over a real collection: the first 8 ukbench photos (two objects x 4 views) indexed by
//! the engine with EfficientNet-Lite0 into HNSW and flat indexes, queried over HTTP.
//! Needs the Lite0 weights in the model cache (`vsearch models fetch efficientnet-lite0`).

use crate::common;

use crate::common::Server;
use std::sync::{Arc, OnceLock};
use vsearch_engine::{index_folder, Collection, DeviceSpec};
use vsearch_server::ServeOptions;

struct Fixture {
    _photos: tempfile::TempDir,
    collection: Arc<Collection>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let photos = common::photo_folder(8);
        let report =
            index_folder(photos.path(), &common::lite0_options()).expect("index the test photos");
        assert_eq!(report.indexed, 8, "{report:?}");
        let collection =
            Collection::open(photos.path(), &DeviceSpec::Cpu).expect("open the collection");
        Fixture {
            _photos: photos,
            collection: Arc::new(collection),
        }
    })
}

fn expect() -> common::Expect {
    common::Expect {
        model: "efficientnet-lite0",
        dim: 1280,
        count: 8,
        built: vec!["hnsw", "flat"],
        not_built: "ivf",
        same_object: Some(vec![
            "ukbench00000.jpg",
            "ukbench00001.jpg",
            "ukbench00002.jpg",
            "ukbench00003.jpg",
        ]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_collection_answers_every_endpoint() {
    let server = Server::start(fixture().collection.clone(), common::serve_options()).await;
    common::check_good_requests(&server, &expect()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_collection_bad_requests_get_4xx() {
    let server = Server::start(fixture().collection.clone(), common::serve_options()).await;
    common::check_bad_requests(&server, &expect()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_collection_body_limit_is_413() {
    let options = ServeOptions {
        max_body_bytes: 1024 * 1024,
        ..common::serve_options()
    };
    let server = Server::start(fixture().collection.clone(), options).await;
    common::check_body_limit(&server).await;
    server.stop().await;
}
