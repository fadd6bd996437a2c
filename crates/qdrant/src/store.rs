//! [`Store`]: the blocking calls on one collection, with retries.

use crate::error::{Result, StoreError};
use crate::layout::{CollectionLayout, Distance, Quantization, VectorSpec};
use qdrant_client::qdrant::{
    self, point_id::PointIdOptions, vectors_config, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DatetimeIndexParamsBuilder, DeletePointsBuilder,
    FacetCountsBuilder, FieldType, Filter, FloatIndexParamsBuilder, GetPointsBuilder,
    IntegerIndexParamsBuilder, KeywordIndexParamsBuilder, PointId, PointStruct, PointsIdsList,
    QueryBatchPointsBuilder, QueryPoints, RetrievedPoint, ScalarQuantizationBuilder, ScoredPoint,
    ScrollPointsBuilder, SetPayloadPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder,
    VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use serde_json::{Map, Value};
use std::collections::HashMap;
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

/// A point to write: its id, its vector (under the store's vector name) and its payload.
#[derive(Debug, Clone)]
pub struct Point {
    pub id: uuid::Uuid,
    pub vector: Vec<f32>,
    pub payload: Map<String, Value>,
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
    fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
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
    fn send<R, T, Fut>(&self, what: &str, request: R, send: impl Fn(Qdrant, R) -> Fut) -> Result<T>
    where
        R: Clone,
        T: Send + 'static,
        Fut: Future<Output = std::result::Result<T, QdrantError>> + Send + 'static,
    {
        self.call(what, |c| send(c, request.clone()))
    }

    /// Whether the collection exists.
    pub fn exists(&self) -> Result<bool> {
        let name = self.config.collection.clone();
        self.send("a collection check", name, |c, r| async move {
            c.collection_exists(r).await
        })
    }

    /// The collection's named vectors (an unnamed one is reported with the name `""`).
    pub fn vectors(&self) -> Result<Vec<VectorSpec>> {
        let info = self.info()?;
        let config = info
            .config
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config);
        let spec = |name: &str, p: &qdrant::VectorParams| VectorSpec {
            name: name.to_string(),
            dim: p.size as usize,
            distance: if p.distance == qdrant::Distance::Euclid as i32 {
                Distance::Euclid
            } else {
                Distance::Cosine
            },
        };
        let mut specs: Vec<VectorSpec> = match config {
            Some(vectors_config::Config::Params(p)) => vec![spec("", &p)],
            Some(vectors_config::Config::ParamsMap(m)) => {
                m.map.iter().map(|(n, p)| spec(n, p)).collect()
            }
            None => Vec::new(),
        };
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(specs)
    }

    /// Checks that the collection holds `spec` (same size and distance), creating the collection with
    /// `layout` when it does not exist. Returns whether it was created.
    pub fn ensure(&self, spec: &VectorSpec, layout: &CollectionLayout) -> Result<bool> {
        if self.exists()? {
            return match self.check(spec) {
                // Another model's collection: its vectors stay, this model's are added beside them.
                Err(missing @ StoreError::NoSuchVector { .. }) => {
                    self.add_vector(spec).map_err(|e| {
                        tracing::warn!("cannot add vector `{}`: {e}", spec.name);
                        missing
                    })?;
                    Ok(false)
                }
                other => other.map(|()| false),
            };
        }
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params(
            spec.name.clone(),
            VectorParamsBuilder::new(spec.dim as u64, spec.distance.proto()),
        );
        let mut create =
            CreateCollectionBuilder::new(self.config.collection.clone()).vectors_config(vectors);
        if let Some(n) = layout.shards {
            create = create.shard_number(n);
        }
        if let Some(r) = layout.replicas {
            create = create.replication_factor(r);
        }
        if let Some(Quantization::Int8) = layout.quantization {
            create = create.quantization_config(
                ScalarQuantizationBuilder::default()
                    .r#type(qdrant::QuantizationType::Int8.into())
                    .always_ram(true),
            );
        }
        if let Some((m, ef)) = layout.hnsw {
            create = create.hnsw_config(
                qdrant::HnswConfigDiffBuilder::default()
                    .m(m)
                    .ef_construct(ef),
            );
        }
        if let Some(kb) = layout.indexing_threshold_kb {
            create = create.optimizers_config(
                qdrant::OptimizersConfigDiffBuilder::default().indexing_threshold(kb),
            );
        }
        let request = create.build();
        let created = self.send("creating the collection", request, |c, r| async move {
            c.create_collection(r).await
        });
        if let Err(e) = created {
            // Another worker may have created it at the same moment.
            if self.exists()? {
                self.check(spec)?;
                return Ok(false);
            }
            return Err(e);
        }
        for (key, kind) in &layout.payload_indexes {
            self.create_payload_index(key, kind)?;
        }
        Ok(true)
    }

    /// Adds the named vector `spec` to the existing collection (the other vectors stay).
    fn add_vector(&self, spec: &VectorSpec) -> Result<()> {
        let request = qdrant::CreateVectorNameRequestBuilder::new(
            self.config.collection.clone(),
            spec.name.clone(),
            qdrant::DenseVectorCreationConfigBuilder::new(spec.dim as u64, spec.distance.proto()),
        )
        .wait(true)
        .build();
        self.send("adding a named vector", request, |c, r| async move {
            c.create_vector_name(r).await
        })
        .map(drop)
    }

    fn create_payload_index(&self, key: &str, kind: &str) -> Result<()> {
        let name = self.config.collection.clone();
        let builder = CreateFieldIndexCollectionBuilder::new(
            name,
            key,
            match kind {
                "integer" => FieldType::Integer,
                "float" => FieldType::Float,
                "datetime" => FieldType::Datetime,
                _ => FieldType::Keyword,
            },
        )
        .wait(true);
        let builder = match kind {
            "integer" => {
                builder.field_index_params(IntegerIndexParamsBuilder::new(true, true).build())
            }
            "float" => builder.field_index_params(FloatIndexParamsBuilder::default().build()),
            "datetime" => builder.field_index_params(DatetimeIndexParamsBuilder::default().build()),
            _ => builder.field_index_params(KeywordIndexParamsBuilder::default().prefix(true)),
        };
        let request = builder.build();
        self.send(
            &format!("indexing payload key `{key}`"),
            request,
            |c, r| async move { c.create_field_index(r).await },
        )
        .map(drop)
    }

    /// Checks that the collection holds `spec`.
    pub fn check(&self, spec: &VectorSpec) -> Result<()> {
        let vectors = self.vectors()?;
        match vectors.iter().find(|v| v.name == spec.name) {
            Some(found) if found == spec => Ok(()),
            Some(found) => Err(StoreError::Mismatch {
                collection: self.config.collection.clone(),
                vector: spec.name.clone(),
                found: found.describe(),
                expected: spec.describe(),
            }),
            None => Err(StoreError::NoSuchVector {
                collection: self.config.collection.clone(),
                vector: spec.name.clone(),
                found: vectors
                    .iter()
                    .map(|v| format!("`{}` ({})", v.name, v.describe()))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Writes `points` (their vector named `vector`), waiting until they are applied. `written` is how
    /// many points this run wrote before (for the error).
    pub fn upsert(&self, vector: &str, points: Vec<Point>, written: usize) -> Result<()> {
        let batch = points.len();
        let structs = points
            .into_iter()
            .map(|p| {
                let payload = Payload::try_from(Value::Object(p.payload)).map_err(|e| {
                    StoreError::BadPoint {
                        what: p.id.to_string(),
                        reason: e.to_string(),
                    }
                })?;
                let vectors: HashMap<String, Vec<f32>> =
                    HashMap::from([(vector.to_string(), p.vector)]);
                Ok(PointStruct::new(p.id.to_string(), vectors, payload))
            })
            .collect::<Result<Vec<_>>>()?;
        let request = UpsertPointsBuilder::new(self.config.collection.clone(), structs)
            .wait(true)
            .build();
        self.send("an upsert", request, |c, r| async move {
            c.upsert_points(r).await
        })
        .map(drop)
        .map_err(|e| match e {
            StoreError::Failed {
                attempts, message, ..
            } => StoreError::Write {
                batch,
                written,
                attempts,
                message,
            },
            StoreError::Timeout { attempts, .. } => StoreError::Write {
                batch,
                written,
                attempts,
                message: "timed out".into(),
            },
            other => other,
        })
    }

    /// Sets the vector named `vector` of existing points (their other vectors and payload stay).
    pub fn update_vectors(&self, vector: &str, points: Vec<(uuid::Uuid, Vec<f32>)>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let points: Vec<qdrant::PointVectors> = points
            .into_iter()
            .map(|(id, v)| qdrant::PointVectors {
                id: Some(PointId::from(id.to_string())),
                vectors: Some(HashMap::from([(vector.to_string(), v)]).into()),
            })
            .collect();
        let request =
            qdrant::UpdatePointVectorsBuilder::new(self.config.collection.clone(), points)
                .wait(true)
                .build();
        self.send("a vector update", request, |c, r| async move {
            c.update_vectors(r).await
        })
        .map(drop)
    }

    /// Which of `ids` are points of the collection.
    pub fn existing(&self, ids: &[uuid::Uuid]) -> Result<std::collections::HashSet<uuid::Uuid>> {
        Ok(self
            .lookup(ids, false, None)?
            .iter()
            .filter_map(|p| p.id.as_ref().and_then(point_uuid))
            .collect())
    }

    /// Sets payload keys of some points (other keys are kept).
    pub fn set_payload(&self, ids: &[uuid::Uuid], payload: Map<String, Value>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let payload =
            Payload::try_from(Value::Object(payload)).map_err(|e| StoreError::BadPoint {
                what: "payload".into(),
                reason: e.to_string(),
            })?;
        let request = SetPayloadPointsBuilder::new(self.config.collection.clone(), payload)
            .points_selector(point_ids(ids))
            .wait(true)
            .build();
        self.send("a payload update", request, |c, r| async move {
            c.set_payload(r).await
        })
        .map(drop)
    }

    /// Deletes points by id.
    pub fn delete(&self, ids: &[uuid::Uuid]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let request = DeletePointsBuilder::new(self.config.collection.clone())
            .points(point_ids(ids))
            .wait(true)
            .build();
        self.send("a delete", request, |c, r| async move {
            c.delete_points(r).await
        })
        .map(drop)
    }

    /// Every point `filter` keeps, with the payload keys `keys` (all when empty) and, when `vector`
    /// is given, that vector; `each` gets them a page at a time (its error stops the scroll).
    pub fn scroll<E: From<StoreError>>(
        &self,
        filter: Option<Filter>,
        keys: &[&str],
        vector: Option<&str>,
        mut each: impl FnMut(Vec<RetrievedPoint>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut offset: Option<PointId> = None;
        loop {
            let mut builder = ScrollPointsBuilder::new(self.config.collection.clone())
                .limit(1000)
                .with_payload(payload_selector(keys))
                .with_vectors(vector_selector(vector));
            if let Some(f) = &filter {
                builder = builder.filter(f.clone());
            }
            if let Some(o) = offset.take() {
                builder = builder.offset(o);
            }
            let request = builder.build();
            let page = self.send("a scroll", request, |c, r| async move { c.scroll(r).await })?;
            each(page.result)?;
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// A page of the points `filter` keeps in the order `order` (a payload key with a range index,
    /// descending), with the payload keys `keys`.
    pub fn scroll_ordered(
        &self,
        filter: Option<Filter>,
        order: qdrant::OrderBy,
        limit: u32,
        keys: &[&str],
    ) -> Result<Vec<RetrievedPoint>> {
        let mut builder = ScrollPointsBuilder::new(self.config.collection.clone())
            .limit(limit)
            .order_by(order)
            .with_payload(payload_selector(keys))
            .with_vectors(false);
        if let Some(f) = filter {
            builder = builder.filter(f);
        }
        let request = builder.build();
        Ok(self
            .send("a scroll", request, |c, r| async move { c.scroll(r).await })?
            .result)
    }

    /// Points by id, with their payload and, when `vector` is given, that vector.
    pub fn get(&self, ids: &[uuid::Uuid], vector: Option<&str>) -> Result<Vec<RetrievedPoint>> {
        self.lookup(ids, true, vector)
    }

    fn lookup(
        &self,
        ids: &[uuid::Uuid],
        payload: bool,
        vector: Option<&str>,
    ) -> Result<Vec<RetrievedPoint>> {
        let request = GetPointsBuilder::new(self.config.collection.clone(), point_ids(ids).ids)
            .with_payload(payload)
            .with_vectors(vector_selector(vector))
            .build();
        Ok(self
            .send(
                "a lookup",
                request,
                |c, r| async move { c.get_points(r).await },
            )?
            .result)
    }

    /// How many points `filter` keeps (exactly).
    pub fn count(&self, filter: Option<Filter>) -> Result<u64> {
        let mut builder = CountPointsBuilder::new(self.config.collection.clone()).exact(true);
        if let Some(f) = filter {
            builder = builder.filter(f);
        }
        let request = builder.build();
        Ok(self
            .send("a count", request, |c, r| async move { c.count(r).await })?
            .result
            .map_or(0, |r| r.count))
    }

    /// The values of the keyword `key` among the points `filter` keeps, with their counts, most
    /// frequent first (at most `limit`).
    pub fn facet(
        &self,
        key: &str,
        filter: Option<Filter>,
        limit: u64,
    ) -> Result<Vec<(String, u64)>> {
        let mut builder = FacetCountsBuilder::new(self.config.collection.clone(), key)
            .limit(limit)
            .exact(true);
        if let Some(f) = filter {
            builder = builder.filter(f);
        }
        let request = builder.build();
        let hits = self
            .send(
                "a facet count",
                request,
                |c, r| async move { c.facet(r).await },
            )?
            .hits;
        Ok(hits
            .into_iter()
            .filter_map(|h| match h.value.and_then(|v| v.variant) {
                Some(qdrant::facet_value::Variant::StringValue(s)) => Some((s, h.count)),
                Some(qdrant::facet_value::Variant::IntegerValue(i)) => {
                    Some((i.to_string(), h.count))
                }
                _ => None,
            })
            .collect())
    }

    /// Answers one query.
    pub fn query(&self, request: QueryPoints) -> Result<Vec<ScoredPoint>> {
        Ok(self
            .send("a query", request, |c, r| async move { c.query(r).await })?
            .result)
    }

    /// Answers several queries in one call.
    pub fn query_batch(&self, requests: Vec<QueryPoints>) -> Result<Vec<Vec<ScoredPoint>>> {
        let request =
            QueryBatchPointsBuilder::new(self.config.collection.clone(), requests).build();
        Ok(self
            .send("a batch of queries", request, |c, r| async move {
                c.query_batch(r).await
            })?
            .result
            .into_iter()
            .map(|r| r.result)
            .collect())
    }

    /// The collection's state as Qdrant reports it.
    pub fn info(&self) -> Result<qdrant::CollectionInfo> {
        let name = self.config.collection.clone();
        let info = self.send("a collection status", name, |c, r| async move {
            c.collection_info(r).await
        });
        match info {
            Ok(r) => r.result.ok_or_else(|| StoreError::NoSuchCollection {
                collection: self.config.collection.clone(),
            }),
            Err(StoreError::Failed { message, .. }) if message.contains("NotFound") => {
                Err(StoreError::NoSuchCollection {
                    collection: self.config.collection.clone(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Whether Qdrant is done with the collection (status green: writes applied, optimisations over) and
    /// has built its graphs over at least `vectors` vectors.
    pub fn indexed(&self, vectors: u64) -> Result<bool> {
        let info = self.info()?;
        Ok(info.status == qdrant::CollectionStatus::Green as i32
            && info.indexed_vectors_count.unwrap_or(0) >= vectors)
    }

    /// The shards of the collection and where their replicas are (`GET /collections/NAME/cluster`).
    pub fn cluster(&self) -> Result<qdrant::CollectionClusterInfoResponse> {
        let name = self.config.collection.clone();
        self.send("a cluster status", name, |c, r| async move {
            c.collection_cluster_info(r).await
        })
    }

    /// Deletes the collection (benchmarks and tests start clean).
    pub fn drop_collection(&self) -> Result<()> {
        let name = self.config.collection.clone();
        self.send("deleting the collection", name, |c, r| async move {
            c.delete_collection(r).await
        })
        .map(drop)
    }
}

fn point_ids(ids: &[uuid::Uuid]) -> PointsIdsList {
    PointsIdsList {
        ids: ids.iter().map(|id| PointId::from(id.to_string())).collect(),
    }
}

fn payload_selector(keys: &[&str]) -> qdrant::with_payload_selector::SelectorOptions {
    use qdrant::with_payload_selector::SelectorOptions;
    if keys.is_empty() {
        SelectorOptions::Enable(true)
    } else {
        SelectorOptions::Include(qdrant::PayloadIncludeSelector {
            fields: keys.iter().map(|k| k.to_string()).collect(),
        })
    }
}

fn vector_selector(vector: Option<&str>) -> qdrant::with_vectors_selector::SelectorOptions {
    use qdrant::with_vectors_selector::SelectorOptions;
    match vector {
        None => SelectorOptions::Enable(false),
        Some(name) => SelectorOptions::Include(qdrant::VectorsSelector {
            names: vec![name.to_string()],
        }),
    }
}

/// The UUID of a point id (`None` for a numeric id: not one of vsearch's points).
pub fn point_uuid(id: &PointId) -> Option<uuid::Uuid> {
    match &id.point_id_options {
        Some(PointIdOptions::Uuid(s)) => s.parse().ok(),
        _ => None,
    }
}

/// The vector named `name` of a retrieved point.
pub fn dense_vector(point: &RetrievedPoint, name: &str) -> Option<Vec<f32>> {
    match point.vectors.as_ref()?.get_vector_by_name(name)? {
        qdrant::vector_output::Vector::Dense(v) => Some(v.data),
        _ => None,
    }
}
