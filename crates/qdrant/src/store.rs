//! [`Store`]: the connection to one collection, and the retries every call goes through. What the
//! calls do is split by what they touch: the collection itself (`collection.rs`), writes of points
//! (`points.rs`) and reads and queries (`read.rs`).

use crate::error::{Result, StoreError};
use qdrant_client::{Qdrant, QdrantError};
use std::future::Future;
use std::time::Duration;

/// Where the store connects, and how patient it is.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The server's gRPC URL, e.g. `http://127.0.0.1:6334`.
    pub url: String,
    /// The collection.
    pub collection: String,
    /// Longest wait for one call.
    pub timeout: Duration,
    /// API key (Qdrant Cloud, or a server started with one).
    pub api_key: Option<String>,
    pub retry: Retry,
}

impl StoreConfig {
    /// `url` and `collection`, 30 s per call, the default [`Retry`].
    pub fn new(url: impl Into<String>, collection: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            collection: collection.into(),
            timeout: Duration::from_secs(30),
            api_key: None,
            retry: Retry::default(),
        }
    }
}

/// How calls that may succeed later are retried: `attempts` tries in all, waiting `first_wait`, then
/// twice as long each time, up to `max_wait`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl Default for Retry {
    /// 6 attempts, 200 ms doubling to 5 s (about 11 s of waiting in all).
    fn default() -> Self {
        Self {
            attempts: 6,
            first_wait: Duration::from_millis(200),
            max_wait: Duration::from_secs(5),
        }
    }
}

/// One Qdrant collection; see the crate docs.
pub struct Store {
    client: Qdrant,
    /// Always `Some` until dropped (taken to shut it down without blocking).
    runtime: Option<tokio::runtime::Runtime>,
    config: StoreConfig,
}

impl Drop for Store {
    /// Stops the client's runtime without waiting: a store may be dropped inside an async context.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What went wrong in one attempt: whether another may succeed.
enum Attempt {
    Transient(String, bool),
    Permanent(String),
}

fn classify(err: QdrantError) -> Attempt {
    use tonic::Code;
    match err {
        QdrantError::ResourceExhaustedError { status, .. } => {
            Attempt::Transient(status.message().to_string(), false)
        }
        QdrantError::ResponseError { status } => {
            let message = format!("{:?}: {}", status.code(), status.message());
            match status.code() {
                Code::DeadlineExceeded | Code::Cancelled => Attempt::Transient(message, true),
                Code::Unavailable
                | Code::ResourceExhausted
                | Code::Aborted
                | Code::Internal
                | Code::Unknown => Attempt::Transient(message, false),
                _ => Attempt::Permanent(message),
            }
        }
        QdrantError::Io(e) => Attempt::Transient(e.to_string(), false),
        other => Attempt::Permanent(other.to_string()),
    }
}

impl Store {
    /// Connects to the server (checking that it answers) for the collection of `config`.
    pub fn connect(config: StoreConfig) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vsearch-qdrant")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unreachable {
                url: config.url.clone(),
                reason: format!("cannot start the client's runtime: {e}"),
            })?;
        let mut builder = Qdrant::from_url(&config.url)
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5))
            .skip_compatibility_check();
        if let Some(key) = &config.api_key {
            builder = builder.api_key(key.clone());
        }
        let client = {
            // The client's channel belongs to the runtime it is built in.
            let _guard = runtime.enter();
            builder.build().map_err(|e| StoreError::BadUrl {
                url: config.url.clone(),
                reason: e.to_string(),
            })?
        };
        let store = Self {
            client,
            runtime: Some(runtime),
            config,
        };
        store
            .call("a health check", |c| async move { c.health_check().await })
            .map_err(|e| match e {
                StoreError::Failed { message, .. } | StoreError::Timeout { what: message, .. } => {
                    StoreError::Unreachable {
                        url: store.config.url.clone(),
                        reason: message,
                    }
                }
                other => other,
            })?;
        Ok(store)
    }

    /// The collection's name.
    pub fn collection(&self) -> &str {
        &self.config.collection
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// Runs `f` on the store's runtime, retrying what may pass.
    pub(crate) fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(Qdrant) -> Fut,
        Fut: Future<Output = std::result::Result<T, QdrantError>> + Send + 'static,
    {
        let retry = self.config.retry;
        let mut wait = retry.first_wait;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (tx, rx) = std::sync::mpsc::channel();
            let fut = f(self.client.clone());
            if let Some(runtime) = &self.runtime {
                runtime.spawn(async move {
                    let _ = tx.send(fut.await);
                });
            }
            let outcome = rx.recv().unwrap_or_else(|_| {
                Err(QdrantError::Io(std::io::Error::other(
                    "the client's task stopped",
                )))
            });
            let err = match outcome {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match classify(err) {
                Attempt::Permanent(message) => {
                    return Err(StoreError::Failed {
                        what: what.to_string(),
                        attempts: attempt,
                        message,
                    })
                }
                Attempt::Transient(message, timed_out) => {
                    if attempt >= retry.attempts.max(1) {
                        return Err(if timed_out {
                            StoreError::Timeout {
                                what: what.to_string(),
                                seconds: self.config.timeout.as_secs_f64(),
                                attempts: attempt,
                            }
                        } else {
                            StoreError::Failed {
                                what: what.to_string(),
                                attempts: attempt,
                                message,
                            }
                        });
                    }
                    tracing::warn!(
                        "Qdrant {what} failed (attempt {attempt} of {}): {message}; retrying in {} ms",
                        retry.attempts,
                        wait.as_millis()
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(retry.max_wait);
                }
            }
        }
    }

    /// Sends `request` with `send` (through [`Self::call`]: retried while the failure may pass).
    pub(crate) fn send<R, T, Fut>(
        &self,
        what: &str,
        request: R,
        send: impl Fn(Qdrant, R) -> Fut,
    ) -> Result<T>
    where
        R: Clone,
        T: Send + 'static,
        Fut: Future<Output = std::result::Result<T, QdrantError>> + Send + 'static,
    {
        self.call(what, |c| send(c, request.clone()))
    }
}
