//! Concurrent text queries joined into one batch ([`Coalescing`]).
//!
//! A text tower at batch 1 reads every weight for a handful of tokens: ViT-B/32's text tower streams its
//! 150 MB of `f32` weights from memory for each query, so two queries embedded at once cost about what
//! one does. A server answering text queries on several workers therefore gains by running the texts
//! that arrive together as one batch. There is no waiting window: a call that finds the tower idle runs
//! at once with whatever is queued (a lone query is not delayed); calls that arrive while a batch runs
//! queue up, and the first of them to find the tower idle again runs them all as the next batch.

use crate::embedder::TextEmbedder;
use crate::error::{EmbedError, Result};
use std::collections::HashMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Most texts one joined batch holds; calls beyond it wait for the next batch.
const MAX_BATCH_TEXTS: usize = 64;

/// A [`TextEmbedder`] that runs concurrent calls as one batch of the wrapped tower.
pub struct Coalescing {
    inner: Box<dyn TextEmbedder>,
    state: Mutex<State>,
    finished: Condvar,
}

/// Calls waiting for a batch, and results not yet taken by their callers.
#[derive(Default)]
struct State {
    queue: Vec<Call>,
    running: bool,
    next_call: u64,
    results: HashMap<u64, Result<Vec<Vec<f32>>>>,
}

/// One caller's texts.
struct Call {
    id: u64,
    texts: Vec<String>,
}

impl Coalescing {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn TextEmbedder>) -> Self {
        Self {
            inner,
            state: Mutex::default(),
            finished: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `calls` as one batch; each call's rows, or its own error. When the joined batch fails, each
    /// call runs alone, so that one bad text fails only its own call.
    fn run(&self, calls: &[Call]) -> Vec<Result<Vec<Vec<f32>>>> {
        if calls.len() > 1 {
            let texts: Vec<&str> = calls
                .iter()
                .flat_map(|c| c.texts.iter().map(String::as_str))
                .collect();
            if let Ok(mut rows) = self.inner.embed_texts(&texts) {
                if rows.len() == texts.len() {
                    let mut out = Vec::with_capacity(calls.len());
                    for call in calls.iter().rev() {
                        out.push(Ok(rows.split_off(rows.len() - call.texts.len())));
                    }
                    out.reverse();
                    return out;
                }
            }
        }
        calls
            .iter()
            .map(|c| {
                let texts: Vec<&str> = c.texts.iter().map(String::as_str).collect();
                self.inner.embed_texts(&texts)
            })
            .collect()
    }
}

impl TextEmbedder for Coalescing {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut state = self.lock();
        let id = state.next_call;
        state.next_call += 1;
        state.queue.push(Call {
            id,
            texts: texts.iter().map(|t| t.to_string()).collect(),
        });
        loop {
            if let Some(result) = state.results.remove(&id) {
                return result;
            }
            if state.running {
                state = self
                    .finished
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Lead the next batch: the queued calls, oldest first, up to the cap (at least one).
            let mut count = 0;
            let take = state
                .queue
                .iter()
                .take_while(|c| {
                    count += c.texts.len();
                    count <= MAX_BATCH_TEXTS
                })
                .count()
                .max(1);
            let calls: Vec<Call> = state.queue.drain(..take).collect();
            state.running = true;
            drop(state);
            let outcome = catch_unwind(AssertUnwindSafe(|| self.run(&calls)));
            state = self.lock();
            state.running = false;
            let panic = match outcome {
                Ok(results) => {
                    for (call, result) in calls.iter().zip(results) {
                        state.results.insert(call.id, result);
                    }
                    None
                }
                Err(panic) => {
                    for call in &calls {
                        state.results.insert(
                            call.id,
                            Err(EmbedError::Kernel {
                                reason: "the text tower panicked on a batch this text was in"
                                    .into(),
                            }),
                        );
                    }
                    Some(panic)
                }
            };
            self.finished.notify_all();
            if let Some(panic) = panic {
                state.results.remove(&id);
                drop(state);
                resume_unwind(panic);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A tower that returns `[len, batch size]` per text, fails on "bad", and is slow enough for calls
    /// to overlap; it counts its calls.
    struct Slow {
        calls: Arc<AtomicUsize>,
    }

    impl TextEmbedder for Slow {
        fn model_id(&self) -> &str {
            "slow"
        }
        fn dim(&self) -> usize {
            2
        }
        fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            if texts.contains(&"bad") {
                return Err(EmbedError::Tokenizer {
                    reason: "bad text".into(),
                });
            }
            Ok(texts
                .iter()
                .map(|t| vec![t.len() as f32, texts.len() as f32])
                .collect())
        }
    }

    #[test]
    fn concurrent_calls_share_batches_and_get_their_own_rows() {
        let calls = Arc::new(AtomicUsize::new(0));
        let tower = Arc::new(Coalescing::new(Box::new(Slow {
            calls: calls.clone(),
        })));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let tower = tower.clone();
                std::thread::spawn(move || {
                    let texts: Vec<String> = (0..=i % 3).map(|j| "x".repeat(i + j)).collect();
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    (texts.clone(), tower.embed_texts(&refs))
                })
            })
            .collect();
        for t in threads {
            let (texts, rows) = t.join().expect("thread");
            let rows = rows.expect("embedded");
            assert_eq!(rows.len(), texts.len());
            for (text, row) in texts.iter().zip(&rows) {
                assert_eq!(row[0], text.len() as f32, "a call got another call's rows");
            }
        }
        assert!(
            calls.load(Ordering::SeqCst) < 8,
            "8 overlapping calls ran as {} batches",
            calls.load(Ordering::SeqCst)
        );
    }

    #[test]
    fn a_failing_text_fails_only_its_own_call() {
        let tower = Arc::new(Coalescing::new(Box::new(Slow {
            calls: Arc::default(),
        })));
        let threads: Vec<_> = ["good", "bad", "fine", "ok"]
            .into_iter()
            .map(|text| {
                let tower = tower.clone();
                std::thread::spawn(move || (text, tower.embed_texts(&[text])))
            })
            .collect();
        for t in threads {
            let (text, result) = t.join().expect("thread");
            assert_eq!(result.is_err(), text == "bad", "{text}: {result:?}");
        }
        assert!(tower.embed_texts(&[]).expect("empty").is_empty());
    }
}
