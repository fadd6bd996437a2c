//! Input preparation overlapped with inference: batches are decoded and preprocessed on a thread of their
//! own, a bounded number ahead of the model, which takes them in order. `vsearch embed` and the indexing
//! pipeline both feed their models this way.

/// Runs `prepare` over `batches` on a thread of its own, at most `depth` prepared batches ahead of
/// `consume`, which receives them in order on the calling thread. An error from `consume` stops both
/// (the preparing thread's next hand-over fails and it ends) and is returned.
pub fn run_ahead<I, T, E>(
    batches: I,
    depth: usize,
    prepare: impl Fn(I::Item) -> T + Send,
    mut consume: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E>
where
    I: Iterator + Send,
    T: Send,
{
    let (tx, rx) = std::sync::mpsc::sync_channel::<T>(depth.max(1));
    std::thread::scope(|s| {
        // The receiver lives in this closure: on an early return it is dropped, the preparing thread's
        // next send fails and the scope can join it.
        let rx = rx;
        s.spawn(move || {
            for batch in batches {
                let prepared = {
                    let _beside = crate::cpu::Preparing::start();
                    prepare(batch)
                };
                if tx.send(prepared).is_err() {
                    break;
                }
            }
        });
        for prepared in rx.iter() {
            consume(prepared)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_arrive_in_order_and_an_error_stops_the_producer() {
        let mut seen = Vec::new();
        let all: Result<(), ()> = run_ahead(
            0..100,
            2,
            |i| i * 10,
            |v| {
                seen.push(v);
                Ok(())
            },
        );
        assert_eq!(all, Ok(()));
        assert_eq!(seen, (0..100).map(|i| i * 10).collect::<Vec<_>>());

        let prepared = std::sync::atomic::AtomicUsize::new(0);
        let stopped = run_ahead(
            0..1_000_000,
            1,
            |i| {
                prepared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                i
            },
            |v| if v == 3 { Err(v) } else { Ok(()) },
        );
        assert_eq!(stopped, Err(3));
        // The producer stopped within the channel's depth (plus the batch in its hands) of the error.
        assert!(prepared.load(std::sync::atomic::Ordering::Relaxed) <= 4 + 2);
    }
}
