//! PDQ matching at scale: a bank of random PDQ hashes plus planted near copies (within the match distance)
//! of a set of query hashes, indexed by `vsearch_engine::pdq::PdqIndex` (multi-index hashing) as the hash
//! banks are (`vsearch_engine::safety::hashbanks`). Measures the index's build time and memory (its heap
//! bytes, and the process's resident memory before and after), the time to match one arriving image
//! (queries with a planted copy, and queries of fresh random hashes that match nothing), against a full
//! scan of the bank, and the recall of the planted copies (every one must be found). With `--photos DIR`, it
//! also times computing PDQ on each photo's full decode (the cost an index run adds per image).
//!
//! ```text
//! cargo bench --bench pdq_match -- [--hashes 1000000] [--queries 2000] [--distance 31] [--photos ../shared/data/ukbench-14]
//! ```

use clap::Parser;
use rand::{Rng, SeedableRng};
use std::time::Instant;
use vsearch_engine::pdq::{PdqHash, PdqIndex};

#[derive(Parser)]
struct Args {
    /// Random hashes in the bank (planted copies come on top).
    #[arg(long, default_value_t = 1_000_000)]
    hashes: usize,
    /// Queries with a planted copy in the bank; as many fresh random queries are timed too.
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Match distance (bits).
    #[arg(long, default_value_t = 31)]
    distance: u32,
    /// Queries timed against a full scan.
    #[arg(long, default_value_t = 50)]
    scans: usize,
    /// Also time PDQ on the full decode of the photos of this folder.
    #[arg(long)]
    photos: Option<std::path::PathBuf>,
    /// Accepted for `cargo bench`'s own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

fn random_hash(rng: &mut impl Rng) -> PdqHash {
    PdqHash {
        words: [rng.gen(), rng.gen(), rng.gen(), rng.gen()],
    }
}

/// The resident memory of this process, bytes (`VmRSS`).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Median, 99th percentile and mean of `times` (microseconds).
fn summary(times: &mut [f64]) -> String {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    format!(
        "median {:.1} us, p99 {:.1} us, mean {:.1} us",
        at(0.5),
        at(0.99),
        mean
    )
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let queries: Vec<PdqHash> = (0..args.queries).map(|_| random_hash(&mut rng)).collect();
    let mut bank: Vec<PdqHash> = (0..args.hashes).map(|_| random_hash(&mut rng)).collect();
    // One planted copy per query, at a distance spread over 0..=distance.
    let mut planted = Vec::with_capacity(queries.len());
    for (i, q) in queries.iter().enumerate() {
        let bits = i % (args.distance as usize + 1);
        let mut copy = *q;
        for k in rand::seq::index::sample(&mut rng, 256, bits) {
            copy.words[k / 64] ^= 1 << (k % 64);
        }
        planted.push(bank.len());
        bank.push(copy);
    }
    let hashes_bytes = bank.len() * std::mem::size_of::<PdqHash>();
    let before = rss();
    let started = Instant::now();
    let index = PdqIndex::new(bank.clone());
    let build = started.elapsed().as_secs_f64();
    let after = rss();
    println!(
        "bank: {} hashes ({} random, {} planted within {} bits); index built in {build:.2} s; \
         index heap {:.1} MiB (hashes {:.1} MiB), resident memory +{:.1} MiB",
        index.len(),
        args.hashes,
        planted.len(),
        args.distance,
        index.heap_bytes() as f64 / (1 << 20) as f64,
        hashes_bytes as f64 / (1 << 20) as f64,
        after.saturating_sub(before) as f64 / (1 << 20) as f64
    );

    let mut found = 0usize;
    let mut times = Vec::with_capacity(queries.len());
    for (q, &p) in queries.iter().zip(&planted) {
        let t = Instant::now();
        let hits = index.within(q, args.distance);
        times.push(t.elapsed().as_secs_f64() * 1e6);
        found += usize::from(hits.iter().any(|&(at, _)| at == p));
    }
    let recall = found as f64 / queries.len() as f64;
    println!(
        "match, queries with a planted copy ({}): {}; recall of the planted copies {recall:.4} ({found}/{})",
        queries.len(),
        summary(&mut times),
        queries.len()
    );
    let mut misses = Vec::with_capacity(queries.len());
    let mut false_hits = 0usize;
    for _ in 0..queries.len() {
        let q = random_hash(&mut rng);
        let t = Instant::now();
        false_hits += index.within(&q, args.distance).len();
        misses.push(t.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "match, fresh random queries ({}): {}; {false_hits} hashes within {} bits",
        misses.len(),
        summary(&mut misses),
        args.distance
    );
    let mut scans = Vec::new();
    for q in queries.iter().take(args.scans) {
        let t = Instant::now();
        let n = bank
            .iter()
            .filter(|h| h.distance(q) <= args.distance)
            .count();
        scans.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(n >= 1);
    }
    println!(
        "full scan of the bank ({} queries): {}",
        scans.len(),
        summary(&mut scans)
    );
    anyhow::ensure!(
        found == queries.len(),
        "the index missed {} planted copies",
        queries.len() - found
    );

    if let Some(dir) = &args.photos {
        let mut decode = Vec::new();
        let mut hash = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| vsearch_engine::image_io::has_image_extension(p))
            .collect();
        paths.sort();
        for path in &paths {
            let bytes = std::fs::read(path)?;
            let t = Instant::now();
            let image = vsearch_engine::image_io::decode(&bytes, 100_000_000)?;
            decode.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            let pdq = vsearch_engine::pdq::pdq_of_image(&image);
            hash.push(t.elapsed().as_secs_f64() * 1e6);
            anyhow::ensure!(pdq.is_some(), "{} has no hash", path.display());
        }
        println!(
            "PDQ of {} photos of {}: decode {}; PDQ on the full decode {}",
            paths.len(),
            dir.display(),
            summary(&mut decode),
            summary(&mut hash)
        );
    }
    Ok(())
}
