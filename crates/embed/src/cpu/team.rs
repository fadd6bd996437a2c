//! The threads that run the CPU kernels' parallel loops, the way OpenMP runs them: the calling thread
//! takes part in every loop, and a worker that has finished one waits for the next by spinning for a
//! short while ([`SPIN`]) before it sleeps.
//!
//! A forward pass of a tower is ~100 such loops back to back, microseconds apart. rayon's workers sleep
//! between them and every loop then waits for a worker to be woken; beside another busy process on the
//! same cores each wake-up waits for the scheduler, which cost the text tower a third of its speed. Here a
//! loop never waits for a worker that is not already running: tasks nobody took are run by the caller.
//!
//! One loop runs at a time; a loop started while another runs (another thread embedding at the same
//! time) goes to rayon's pool instead.

use rayon::prelude::*;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// How long an idle worker spins, waiting for the next loop, before it sleeps: far longer than the gap
/// between two loops of a forward pass, far shorter than the gap between two batches of a slow source.
const SPIN: Duration = Duration::from_millis(2);

/// Spins (a few microseconds, longer than most gaps between two loops of a forward pass) after which a
/// waiting worker yields its core while the process prepares input beside the model ([`Preparing`]).
const SPINS_BEFORE_YIELDING: u32 = 512;

/// Input preparations running beside the model ([`Preparing`]).
static PREPARING: AtomicUsize = AtomicUsize::new(0);

/// Marks input preparation (decoding, preprocessing) running on other threads of this process while it
/// lives: a worker waiting for the next loop then yields its core after a short spin instead of spinning
/// for all of [`SPIN`], so that the preparing threads get the time the loops leave instead of waiting
/// for the scheduler to preempt a spinning worker (`perf` of `vsearch index`, Lite0: workers spinning for
/// 4.4% of the CPU time, 1.9% with it). Workers never yield otherwise: yielding beside another process's
/// busy work, even at nice 19, handed it the cores and cost the towers up to a third of their speed.
#[must_use = "preparation is marked only while the value lives"]
pub(crate) struct Preparing(());

impl Preparing {
    /// Marks one preparation, until the value is dropped.
    pub(crate) fn start() -> Self {
        PREPARING.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for Preparing {
    fn drop(&mut self) {
        PREPARING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Most tasks of one loop: the next task's index shares one atomic word with the loop's number and
/// task count. Longer loops are cut into this many runs of consecutive tasks.
const MAX_TASKS: usize = u16::MAX as usize;

/// Runs `f(0)`, ..., `f(tasks - 1)` on the team, the calling thread included, and returns when all
/// have run. A panic in a task is raised here once every task has finished.
pub(crate) fn for_each(tasks: usize, f: impl Fn(usize) + Sync) {
    run_loop(tasks, &f);
}

fn run_loop(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    if tasks > MAX_TASKS {
        let runs = MAX_TASKS;
        return run_loop(runs, &|r| {
            (r * tasks / runs..(r + 1) * tasks / runs).for_each(f);
        });
    }
    let team = Team::get();
    if tasks <= 1 || team.workers == 0 {
        (0..tasks).for_each(f);
        return;
    }
    match team.caller.try_lock() {
        Ok(guard) => team.run(guard, tasks, f),
        Err(TryLockError::Poisoned(p)) => team.run(p.into_inner(), tasks, f),
        Err(TryLockError::WouldBlock) => (0..tasks).into_par_iter().for_each(f),
    }
}

/// Threads that run a loop, the caller counted.
pub(crate) fn threads() -> usize {
    Team::get().workers + 1
}

/// The loop being run, on the stack of the thread that started it.
struct Job<'a> {
    task: &'a (dyn Fn(usize) + Sync),
}

/// What the caller and the workers share.
struct Shared {
    /// The current loop's number (bits 32..64), its task count (bits 16..32) and the next task nobody
    /// has taken yet (bits 0..16).
    state: AtomicU64,
    /// The current loop's [`Job`]; set before the loop's number is published.
    job: AtomicPtr<Job<'static>>,
    /// Tasks of the current loop that have finished.
    done: AtomicUsize,
    /// Whether a task of the current loop panicked.
    panicked: AtomicBool,
    /// Workers asleep (or about to sleep) on `wake`.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

fn unpack(state: u64) -> (u32, usize, usize) {
    (
        (state >> 32) as u32,
        ((state >> 16) & 0xffff) as usize,
        (state & 0xffff) as usize,
    )
}

impl Shared {
    /// Takes the next task of loop `number`, if it is still the current loop and has one left. A
    /// task is taken only while its loop's caller waits for it, so its [`Job`] is alive until it is done.
    fn take(&self, number: u32) -> Option<usize> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (current, tasks, next) = unpack(state);
            if current != number || next >= tasks {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(next),
                Err(now) => state = now,
            }
        }
    }

    /// Runs tasks of loop `number` until none is left to take.
    fn work_on(&self, number: u32, job: *const Job<'static>) {
        while let Some(i) = self.take(number) {
            // SAFETY: task `i` of this loop is taken and not done, so the loop's caller is still waiting
            // in `Team::run` and `job` (stored before the loop was published, replaced only after every
            // task of it is done) points to its live `Job`.
            let task = unsafe { (*job).task };
            if catch_unwind(AssertUnwindSafe(|| task(i))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    /// Waits for a loop after loop `seen`: spins for [`SPIN`], then sleeps. Returns its number.
    fn next_loop(&self, seen: u32) -> u32 {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let (number, _, _) = unpack(self.state.load(Ordering::Acquire));
            if number != seen {
                return number;
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > SPIN {
                break;
            }
            if spins > SPINS_BEFORE_YIELDING && PREPARING.load(Ordering::Relaxed) > 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        let mut guard = lock(&self.sleep);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        loop {
            // SeqCst with the caller's store of the state and load of `sleepers`: either this load sees
            // the new loop or the caller sees this sleeper and wakes it (under `sleep`, so not before
            // this thread waits).
            let (number, _, _) = unpack(self.state.load(Ordering::SeqCst));
            if number != seen {
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                return number;
            }
            guard = self
                .wake
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Team {
    shared: &'static Shared,
    /// Worker threads (the caller is the team's other member).
    workers: usize,
    /// Held by the thread running a loop.
    caller: Mutex<()>,
}

impl Team {
    /// The process's team: as many threads as rayon's pool has (`RAYON_NUM_THREADS` or one per core),
    /// the caller counted, started on first use.
    fn get() -> &'static Team {
        static TEAM: OnceLock<Team> = OnceLock::new();
        TEAM.get_or_init(|| {
            let shared: &'static Shared = Box::leak(Box::new(Shared {
                state: AtomicU64::new(0),
                job: AtomicPtr::new(std::ptr::null_mut()),
                done: AtomicUsize::new(0),
                panicked: AtomicBool::new(false),
                sleepers: AtomicUsize::new(0),
                sleep: Mutex::new(()),
                wake: Condvar::new(),
            }));
            let wanted = rayon::current_num_threads().saturating_sub(1);
            let workers = (0..wanted)
                .filter(|i| {
                    let spawned = std::thread::Builder::new()
                        .name(format!("vsearch-cpu-{i}"))
                        .spawn(move || {
                            let mut seen = 0;
                            loop {
                                seen = shared.next_loop(seen);
                                let job = shared.job.load(Ordering::Acquire);
                                shared.work_on(seen, job);
                            }
                        });
                    if let Err(e) = &spawned {
                        tracing::warn!(
                            "could not start a CPU kernel thread ({e}); running with fewer"
                        );
                    }
                    spawned.is_ok()
                })
                .count();
            Team {
                shared,
                workers,
                caller: Mutex::new(()),
            }
        })
    }

    /// Publishes the loop, runs tasks until none is left, waits for the workers' tasks to finish.
    fn run(&self, _turn: MutexGuard<'_, ()>, tasks: usize, task: &(dyn Fn(usize) + Sync)) {
        let s = self.shared;
        let job = Job { task };
        // The pointer outlives its use: workers dereference it only for tasks of this loop, and this
        // function returns only when all of them are done.
        let job_ptr = (&job as *const Job<'_>).cast::<Job<'static>>().cast_mut();
        let (previous, _, _) = unpack(s.state.load(Ordering::Relaxed));
        let number = previous.wrapping_add(1);
        s.done.store(0, Ordering::Relaxed);
        s.panicked.store(false, Ordering::Relaxed);
        s.job.store(job_ptr, Ordering::Relaxed);
        s.state.store(
            (u64::from(number) << 32) | ((tasks as u64) << 16),
            Ordering::SeqCst,
        );
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _sleep = lock(&s.sleep);
            s.wake.notify_all();
        }
        s.work_on(number, job_ptr);
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) < tasks {
            spins = spins.saturating_add(1);
            if spins < 4096 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        if s.panicked.load(Ordering::Relaxed) {
            resume_unwind(Box::new("a CPU kernel task panicked"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Every task runs once, loop after loop, with short and long loops and from several threads at once
    /// (one of them on the team, the others on rayon's pool).
    #[test]
    fn every_task_runs_exactly_once() {
        std::thread::scope(|scope| {
            for thread in 0..3 {
                scope.spawn(move || {
                    for round in 0..300 {
                        let tasks = (round * 7 + thread) % 40;
                        let hits: Vec<AtomicUsize> =
                            (0..tasks).map(|_| AtomicUsize::new(0)).collect();
                        for_each(tasks, |i| {
                            hits[i].fetch_add(1, Ordering::Relaxed);
                        });
                        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
                    }
                });
            }
        });
        let tasks = MAX_TASKS * 2 + 3;
        let hits: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
        for_each(tasks, |i| {
            hits[i].fetch_add(1, Ordering::Relaxed);
        });
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
    }

    /// A loop after the workers went to sleep still runs every task.
    #[test]
    fn loops_after_the_workers_slept_still_run() {
        for _ in 0..3 {
            let count = AtomicUsize::new(0);
            for_each(10, |_| {
                count.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(count.load(Ordering::Relaxed), 10);
            std::thread::sleep(SPIN * 3);
        }
    }

    /// A panicking task is raised in the caller, after the loop, and the team keeps working.
    #[test]
    fn a_panicking_task_is_raised_in_the_caller() {
        let result = catch_unwind(|| {
            for_each(8, |i| {
                if i == 5 {
                    panic!("task five");
                }
            })
        });
        assert!(result.is_err());
        let count = AtomicUsize::new(0);
        for_each(8, |_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 8);
    }
}
