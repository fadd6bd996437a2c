//! `serve` answers until SIGTERM, then finishes and returns Ok. It signals its own process: the server it
//! starts is the only listener for SIGTERM there (see main.rs).

use crate::common;

use std::time::Duration;
use vsearch_server::ServeOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_serve_cleanly() {
    let photos = common::photo_folder(2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound address");
    let options = ServeOptions {
        workers: 1,
        ..ServeOptions::default()
    };
    let backend = common::HistogramCollection::build(photos.path());
    let server = tokio::spawn(vsearch_server::serve_on(listener, backend, options));
    // The socket is listening already: this request waits until the server (its signal handlers
    // installed, the model warm) accepts it.
    let health = format!("http://{addr}/api/health");
    let response = reqwest::get(&health).await.expect("the server answers");
    assert!(
        response.status().is_success(),
        "the server answers /api/health"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns within 10 s of SIGTERM")
        .expect("server task");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        reqwest::get(&health).await.is_err(),
        "nothing answers after shutdown"
    );
}
