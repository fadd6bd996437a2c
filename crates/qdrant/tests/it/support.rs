//! What the store's tests share: a store on a fresh collection of a test node, and a TCP proxy that can
//! stall a live connection (a server that stops answering without closing it: a GC pause, a network
//! partition), which a test cannot get from Qdrant itself.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vsearch_qdrant::{CollectionLayout, Distance, Retry, Store, StoreConfig, VectorSpec};

/// The vector every test collection holds.
pub const VECTOR: &str = "test-model";
pub const DIM: usize = 8;

pub fn spec() -> VectorSpec {
    VectorSpec {
        name: VECTOR.to_string(),
        dim: DIM,
        distance: Distance::Cosine,
    }
}

/// Quick retries for the tests: `attempts` tries, 50 ms doubling to 200 ms, `timeout` per call.
pub fn config(url: String, collection: &str, attempts: u32, timeout: Duration) -> StoreConfig {
    let mut config = StoreConfig::new(url, collection);
    config.timeout = timeout;
    config.retry = Retry {
        attempts,
        first_wait: Duration::from_millis(50),
        max_wait: Duration::from_millis(200),
    };
    config
}

/// A store on the new collection `collection` (created with [`spec`]).
pub fn created(url: String, collection: &str) -> Store {
    let store =
        Store::connect(config(url, collection, 3, Duration::from_secs(10))).expect("connect");
    assert!(store
        .ensure(&spec(), &CollectionLayout::default())
        .expect("create"));
    store
}

/// A local TCP proxy to `127.0.0.1:upstream`: bytes pass both ways until [`Proxy::stall`], after which
/// they are held (in order, the connection kept open) until [`Proxy::resume`].
pub struct Proxy {
    pub port: u16,
    stalled: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (from, to) = (
                        from.try_clone().expect("clone"),
                        to.try_clone().expect("clone"),
                    );
                    let flag = flag.clone();
                    std::thread::spawn(move || pump(from, to, &flag));
                }
            }
        });
        Proxy { port, stalled }
    }

    /// The proxy's URL (gRPC, as the store takes it).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either closes, holding each chunk while the proxy is stalled.
fn pump(mut from: TcpStream, mut to: TcpStream, stalled: &AtomicBool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
