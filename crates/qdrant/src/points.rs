//! Writing points: upserts, vector and payload updates, deletes.

use crate::convert::point_ids;
use crate::error::{Result, StoreError};
use crate::store::Store;
use qdrant_client::qdrant::{
    self, DeletePointsBuilder, PointId, PointStruct, SetPayloadPointsBuilder, UpsertPointsBuilder,
};
use qdrant_client::Payload;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A point to write: its id, its vector (under the store's vector name) and its payload.
#[derive(Debug, Clone)]
pub struct Point {
    pub id: uuid::Uuid,
    pub vector: Vec<f32>,
    pub payload: Map<String, Value>,
}

impl Store {
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
        let request = UpsertPointsBuilder::new(self.collection().to_string(), structs)
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
        let request = qdrant::UpdatePointVectorsBuilder::new(self.collection().to_string(), points)
            .wait(true)
            .build();
        self.send("a vector update", request, |c, r| async move {
            c.update_vectors(r).await
        })
        .map(drop)
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
        let request = SetPayloadPointsBuilder::new(self.collection().to_string(), payload)
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
        let request = DeletePointsBuilder::new(self.collection().to_string())
            .points(point_ids(ids))
            .wait(true)
            .build();
        self.send("a delete", request, |c, r| async move {
            c.delete_points(r).await
        })
        .map(drop)
    }
}
