//! The bounded blocking pool where model inference and searches run, off the async workers.
//!
//! At most `workers` jobs run at once (a semaphore around `spawn_blocking`); at most `queue` more wait
//! for a turn. A request beyond that is refused at once with 503 and `Retry-After`; its body is read
//! only to be dropped, never buffered, so a burst of uploads cannot exhaust memory.

use crate::error::ApiError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Seconds a refused client is told to wait.
const RETRY_AFTER_SECS: u32 = 1;

/// A bounded pool of blocking workers with a bounded queue in front.
#[derive(Debug)]
pub struct Pool {
    permits: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    workers: usize,
}

/// A place in the pool (running or queued); given back on drop.
#[derive(Debug)]
pub struct Ticket {
    admitted: Arc<AtomicUsize>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    /// A pool running `workers` jobs at once (at least 1) with room for `queue` waiting ones.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            permits: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: workers + queue,
            workers,
        }
    }

    /// Jobs that may run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Jobs admitted now (running or queued).
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Whether a job would be admitted now (running and queued jobs leave room).
    pub fn has_room(&self) -> bool {
        self.admitted() < self.capacity
    }

    /// Takes a place in the pool, or answers 503 when running and queued jobs fill it.
    pub fn admit(&self) -> Result<Ticket, ApiError> {
        let mut current = self.admitted.load(Ordering::Acquire);
        loop {
            if current >= self.capacity {
                return Err(ApiError::busy(RETRY_AFTER_SECS));
            }
            match self.admitted.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Ok(Ticket {
                        admitted: self.admitted.clone(),
                    })
                }
                Err(now) => current = now,
            }
        }
    }

    /// Runs `job` on a blocking thread once a worker is free; the ticket is held until it ends.
    pub async fn run<T, F>(&self, ticket: Ticket, job: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the worker pool is shut down"))?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _ticket = ticket;
            job()
        })
        .await;
        // A panic's message may hold anything (paths included): it goes to the log only.
        result.map_err(|e| {
            ApiError::internal("a search worker failed; the server's log has the details")
                .with_detail(format!("a search worker failed: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn refuses_beyond_workers_plus_queue() {
        let pool = Pool::new(1, 2);
        let a = pool.admit().unwrap();
        let _b = pool.admit().unwrap();
        let _c = pool.admit().unwrap();
        let refused = pool.admit().unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(RETRY_AFTER_SECS));
        drop(a);
        assert_eq!(pool.admitted(), 2);
        assert!(pool.admit().is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_at_most_workers_jobs_at_once() {
        // Every job waits at a two-party barrier, so jobs can only finish in pairs that run at the same
        // time: the 12 jobs finish only if two workers run at once, and a third running job would show in
        // `running`.
        let pool = Arc::new(Pool::new(2, 16));
        let pair = Arc::new(std::sync::Barrier::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (pool, pair) = (pool.clone(), pair.clone());
            let (running, peak) = (running.clone(), peak.clone());
            let ticket = pool.admit().unwrap();
            tasks.push(tokio::spawn(async move {
                pool.run(ticket, move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    pair.wait();
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
                .unwrap()
            }));
        }
        // The deadline only turns a pool that never runs two jobs at once into a failure instead of a hang.
        let all = async {
            for t in tasks {
                t.await.unwrap();
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), all)
            .await
            .expect("two jobs run at once");
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(pool.admitted(), 0);
    }
}
