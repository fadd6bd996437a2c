//! A real Qdrant server for the tests: the binary in `../shared/tools/qdrant/` (built from Qdrant's public
//! source), started on 127.0.0.1 with free ports and a temporary storage folder; one node or a cluster.
//! Without the binary a test fails, unless the run allows the skip (`VSEARCH_ALLOW_SKIP=qdrant`, see
//! [`crate::skip`]).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `../shared/tools/qdrant/qdrant` beside the checkout (this crate is `crates/testkit` in it).
pub fn binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/qdrant/qdrant")
}

/// Whether the binary is there; when it is not, the test fails unless `VSEARCH_ALLOW_SKIP` lists `qdrant`
/// (then `false`: the skip is recorded and the test returns).
fn available() -> bool {
    let bin = binary();
    if bin.is_file() {
        return true;
    }
    crate::skip::missing(
        "qdrant",
        &format!(
            "no Qdrant server binary at {} (see the README's Qdrant section)",
            bin.display()
        ),
    );
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One running Qdrant node; killed when dropped.
pub struct Node {
    pub http: u16,
    pub grpc: u16,
    pub p2p: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    /// The `--bootstrap` and `--uri` arguments it was started with (a restart reuses them).
    args: Vec<String>,
    cluster: bool,
}

impl Node {
    /// Starts one node with its storage in `dir`; `bootstrap` is the first node's p2p port for a
    /// cluster's later nodes; `cluster` turns on clustering.
    pub fn start(dir: &Path, cluster: bool, bootstrap: Option<u16>) -> Node {
        std::fs::create_dir_all(dir).expect("node dir");
        let p2p = free_port();
        let mut args = Vec::new();
        if cluster {
            if let Some(first) = bootstrap {
                args.push("--bootstrap".to_string());
                args.push(format!("http://127.0.0.1:{first}"));
            }
            args.push("--uri".to_string());
            args.push(format!("http://127.0.0.1:{p2p}"));
        }
        let mut node = Node {
            http: free_port(),
            grpc: free_port(),
            p2p,
            dir: dir.to_path_buf(),
            child: None,
            args,
            cluster,
        };
        node.launch();
        node
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.join("qdrant.log")).expect("log file");
        let mut cmd = Command::new(binary());
        cmd.current_dir(&self.dir)
            .args(&self.args)
            .env("QDRANT__STORAGE__STORAGE_PATH", self.dir.join("storage"))
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                self.dir.join("snapshots"),
            )
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc.to_string())
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__LOG_LEVEL", "WARN")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        if self.cluster {
            cmd.env("QDRANT__CLUSTER__ENABLED", "true")
                .env("QDRANT__CLUSTER__P2P__PORT", self.p2p.to_string());
        }
        self.child = Some(cmd.spawn().expect("start qdrant"));
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.get("/readyz").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(self.dir.join("qdrant.log")).unwrap_or_default();
        panic!("qdrant on port {} did not become ready:\n{log}", self.http);
    }

    /// The gRPC URL vsearch talks to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    /// `GET path` on the REST API: the body when it answered 200.
    pub fn get(&self, path: &str) -> Option<String> {
        let url = format!("http://127.0.0.1:{}{path}", self.http);
        let client = reqwest::blocking::Client::new();
        let resp = client
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        resp.status()
            .is_success()
            .then(|| resp.text().ok())
            .flatten()
    }

    /// `GET path` as JSON.
    pub fn get_json(&self, path: &str) -> Option<serde_json::Value> {
        serde_json::from_str(&self.get(path)?).ok()
    }

    /// Kills the node as a crash would (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed node again on the same ports and storage.
    pub fn restart(&mut self) {
        self.kill();
        // A restarted peer rejoins from its own storage: no --bootstrap.
        self.args.retain(|a| a != "--bootstrap");
        if let Some(i) = self
            .args
            .iter()
            .position(|a| a.starts_with("http://") && !a.ends_with(&format!(":{}", self.p2p)))
        {
            self.args.remove(i);
        }
        self.launch();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One node in `dir`, or `None` (the test returns) when the binary is absent and the skip allowed.
pub fn single(dir: &Path) -> Option<Node> {
    if !available() {
        return None;
    }
    Some(Node::start(dir, false, None))
}

/// `n` nodes of one cluster, or `None` when the binary is absent and the skip allowed.
pub fn cluster(dir: &Path, n: usize) -> Option<Vec<Node>> {
    if !available() {
        return None;
    }
    let first = Node::start(&dir.join("node-1"), true, None);
    let bootstrap = first.p2p;
    let mut nodes = vec![first];
    for i in 2..=n {
        nodes.push(Node::start(
            &dir.join(format!("node-{i}")),
            true,
            Some(bootstrap),
        ));
        // One at a time: each joins the consensus before the next.
        std::thread::sleep(Duration::from_secs(1));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let peers = nodes[0]
            .get_json("/cluster")
            .and_then(|c| c["result"]["peers"].as_object().map(|p| p.len()))
            .unwrap_or(0);
        if peers == n {
            return Some(nodes);
        }
        assert!(
            Instant::now() < deadline,
            "the cluster has {peers} of {n} peers"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
