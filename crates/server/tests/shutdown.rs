//! `serve` answers until SIGTERM, then finishes and returns Ok (a test binary of its own: it signals itself).

mod common;

use std::time::Duration;
use vsearch_server::ServeOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_serve_cleanly() {
    let photos = common::photo_folder(2);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = ServeOptions {
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        workers: 1,
        ..ServeOptions::default()
    };
    let backend = common::HistogramCollection::build(photos.path());
    let server = tokio::spawn(vsearch_server::serve(backend, options));
    let health = format!("http://127.0.0.1:{port}/api/health");
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(&health)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server answers /api/health");
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
