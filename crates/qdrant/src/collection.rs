//! The collection itself: whether it exists, its named vectors, creating it (with its payload
//! indexes), its status and deleting it.

use crate::error::{Result, StoreError};
use crate::layout::{CollectionLayout, Distance, Quantization, VectorSpec};
use crate::store::Store;
use qdrant_client::qdrant::{
    self, vectors_config, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DatetimeIndexParamsBuilder, FieldType, FloatIndexParamsBuilder, IntegerIndexParamsBuilder,
    KeywordIndexParamsBuilder, ScalarQuantizationBuilder, VectorParamsBuilder,
    VectorsConfigBuilder,
};

impl Store {
    /// Whether the collection exists.
    pub fn exists(&self) -> Result<bool> {
        let name = self.collection().to_string();
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
            CreateCollectionBuilder::new(self.collection().to_string()).vectors_config(vectors);
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
            self.collection().to_string(),
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

    /// Indexes the payload key `key` as `kind` (`keyword` with prefix matching, `integer`, `float`,
    /// `datetime` or `bool`); indexing a key already indexed so is a no-op.
    pub fn create_payload_index(&self, key: &str, kind: &str) -> Result<()> {
        let name = self.collection().to_string();
        let builder = CreateFieldIndexCollectionBuilder::new(
            name,
            key,
            match kind {
                "integer" => FieldType::Integer,
                "float" => FieldType::Float,
                "datetime" => FieldType::Datetime,
                "bool" => FieldType::Bool,
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
            "bool" => builder,
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
                collection: self.collection().to_string(),
                vector: spec.name.clone(),
                found: found.describe(),
                expected: spec.describe(),
            }),
            None => Err(StoreError::NoSuchVector {
                collection: self.collection().to_string(),
                vector: spec.name.clone(),
                found: vectors
                    .iter()
                    .map(|v| format!("`{}` ({})", v.name, v.describe()))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The collection's state as Qdrant reports it.
    pub fn info(&self) -> Result<qdrant::CollectionInfo> {
        let name = self.collection().to_string();
        let info = self.send("a collection status", name, |c, r| async move {
            c.collection_info(r).await
        });
        match info {
            Ok(r) => r.result.ok_or_else(|| StoreError::NoSuchCollection {
                collection: self.collection().to_string(),
            }),
            Err(StoreError::Failed { message, .. }) if message.contains("NotFound") => {
                Err(StoreError::NoSuchCollection {
                    collection: self.collection().to_string(),
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
        let name = self.collection().to_string();
        self.send("a cluster status", name, |c, r| async move {
            c.collection_cluster_info(r).await
        })
    }

    /// Deletes the collection (benchmarks and tests start clean).
    pub fn drop_collection(&self) -> Result<()> {
        let name = self.collection().to_string();
        self.send("deleting the collection", name, |c, r| async move {
            c.delete_collection(r).await
        })
        .map(drop)
    }
}
