//! Resident memory of a served HNSW index against what it must hold (its vectors and its links), and
//! against the same index loaded to be changed (hnsw_rs's graph beside the search layout, as `vsearch index`
//! loads it). Builds an HNSW index over a dataset, saves it, then loads it in fresh child processes of this
//! benchmark, alternating the two loads round by round; each child reports how much its resident set grew
//! while loading (`VmRSS` after minus before, the saved files read and dropped) and its peak (`VmHWM`).
//!
//! What the index must hold: the vectors (`n x d x 4` bytes) and the search layout's links (layer 0:
//! `1 + degree0` u32 per point; the upper layers' blocks; the links laid over the graph), the ids
//! (8 bytes per point) and the id-to-slot map; the layout's own figure is `memory_bytes` of the
//! search-only index, printed beside the RSS.
//!
//! With `--quantization int8` the index walks int8 codes: opened for search it holds the codes and links
//! and maps its full vectors, so each child also runs 1,000 searches (queries: saved vectors, spread over the
//! index) and reports its resident growth after them, the mapped rows the re-scoring brought in included.
//!
//! ```text
//! cargo bench --bench hnsw_memory -- [--dataset fashion-mnist] [--m 16] [--ef-construction 100] [--rounds 2]
//!                                    [--quantization int8]
//! ```

/// The `vsearch` binary's allocator, so the benchmark measures what the binary runs.
#[path = "../src/allocator.rs"]
mod allocator;

use anyhow::{bail, Context};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use vsearch_bench::dataset::{self, DatasetSpec};
use vsearch_index::hnsw::HnswIndex;
use vsearch_index::{persist, HnswParams, IndexConfig, Quantization, SearchParams, VectorIndex};

/// Searches each child runs after loading (queries: saved vectors spread over the index).
const QUERIES: usize = 1_000;

#[derive(clap::Parser)]
struct Args {
    /// The vectors (`vsearch bench --dataset` forms).
    #[arg(long, default_value = "fashion-mnist")]
    dataset: String,
    /// HNSW M.
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// HNSW ef_construction.
    #[arg(long, default_value_t = 100)]
    ef_construction: usize,
    /// Walk int8 codes (`int8`); default: the full vectors.
    #[arg(long)]
    quantization: Option<Quantization>,
    /// Rounds, each one load of each kind in its own process.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Internal: load the index in DIR (`search` or `change`) and print the memory it took.
    #[arg(long, hide = true, num_args = 2, value_names = ["HOW", "DIR"])]
    child: Option<Vec<String>>,
    /// Passed by `cargo bench`.
    #[arg(long = "bench", hide = true)]
    _bench: bool,
}

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn status_bytes() -> anyhow::Result<(u64, u64)> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("/proc/self/status has no {name}"))?;
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("cannot read {line}"))?;
        Ok(kib * 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// [`QUERIES`] vectors of the quantized index saved in `dir`, spread over it, read row by row from its
/// `vectors.f32` (not mapped).
fn queries(dir: &Path, dim: usize, n: usize) -> anyhow::Result<Vec<f32>> {
    use std::io::{Read, Seek, SeekFrom};
    let path = dir.join("vectors.f32");
    let mut file =
        std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::with_capacity(QUERIES * dim);
    let mut row = vec![0u8; dim * 4];
    for i in 0..QUERIES {
        let slot = (i * n / QUERIES) as u64;
        file.seek(SeekFrom::Start(slot * dim as u64 * 4))?;
        file.read_exact(&mut row)?;
        out.extend(
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    }
    Ok(out)
}

/// The child: loads the index and prints `rss_delta peak layout_bytes load_s rss_after_queries`
/// (the last 0 when the index is not quantized).
fn child(how: &str, dir: &Path) -> anyhow::Result<()> {
    let manifest = persist::read_manifest(dir)?;
    let (before, _) = status_bytes()?;
    let t = Instant::now();
    let index = match how {
        "search" => HnswIndex::load_for_search(dir, &manifest)?,
        "change" => HnswIndex::load(dir, &manifest)?,
        other => bail!("unknown load {other}"),
    };
    let load_s = t.elapsed().as_secs_f64();
    let (after, peak) = status_bytes()?;
    let quantized = matches!(manifest.config, IndexConfig::Hnsw(p) if p.quantization.is_some());
    let after_queries = if quantized {
        let q = queries(dir, manifest.dim, index.len())?;
        let (start, _) = status_bytes()?;
        for row in q.chunks_exact(manifest.dim) {
            index.search(row, 10, &SearchParams::default())?;
        }
        // Growth from the load's start, less the queries' own buffer (read before `start`).
        let (end, _) = status_bytes()?;
        after.saturating_sub(before) + end.saturating_sub(start)
    } else {
        0
    };
    println!(
        "{} {} {} {load_s} {after_queries}",
        after.saturating_sub(before),
        peak.saturating_sub(before),
        index.search_layout_bytes()
    );
    drop(index);
    Ok(())
}

/// One child's figures: RSS delta, peak delta, layout bytes, load seconds, RSS delta after the queries.
type Figures = (u64, u64, u64, f64, u64);

/// Runs one child load.
fn measure(how: &str, dir: &Path) -> anyhow::Result<Figures> {
    let exe = std::env::current_exe().context("finding this benchmark's executable")?;
    let out = Command::new(exe)
        .arg("--child")
        .arg(how)
        .arg(dir)
        .output()
        .context("starting a child load")?;
    if !out.status.success() {
        bail!(
            "the {how} load failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<&str> = text.split_whitespace().collect();
    if v.len() != 5 {
        bail!("the {how} load printed {text:?}");
    }
    Ok((
        v[0].parse()?,
        v[1].parse()?,
        v[2].parse()?,
        v[3].parse()?,
        v[4].parse()?,
    ))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(c) = &args.child {
        return child(&c[0], Path::new(&c[1]));
    }
    allocator::keep_freed_memory();
    let spec: DatasetSpec = args.dataset.parse()?;
    let ds = dataset::load(&spec, 0)?;
    let n = ds.n_base();
    let params = HnswParams {
        m: args.m,
        ef_construction: args.ef_construction,
        quantization: args.quantization,
        ..HnswParams::default()
    };
    eprintln!(
        "building HNSW (M {}, ef_construction {}) over {n} x {} ({})",
        params.m, params.ef_construction, ds.dim, ds.name
    );
    let t = Instant::now();
    let index = vsearch_index::build(
        &IndexConfig::Hnsw(params),
        ds.dim,
        ds.metric,
        &ds.ids,
        &ds.base,
    )?;
    eprintln!("built in {:.1} s", t.elapsed().as_secs_f64());
    let tmp = tempfile::tempdir()?;
    let dir: PathBuf = tmp.path().join("hnsw");
    index.save(&dir)?;
    drop(index);
    drop(ds);

    let mut best: [Figures; 2] = [(u64::MAX, u64::MAX, 0, f64::MAX, u64::MAX); 2];
    let kinds = ["search", "change"];
    for round in 0..args.rounds {
        for i in 0..2 {
            // A B, then B A: each side first in half the rounds.
            let k = if round % 2 == 0 { i } else { 1 - i };
            let m = measure(kinds[k], &dir)?;
            eprintln!(
                "round {}: {:<6} RSS +{:.1} MiB, peak +{:.1} MiB, vectors + links {:.1} MiB, load {:.2} s",
                round + 1,
                kinds[k],
                mib(m.0),
                mib(m.1),
                mib(m.2),
                m.3
            );
            if m.4 > 0 {
                eprintln!(
                    "         after {QUERIES} searches: RSS +{:.1} MiB",
                    mib(m.4)
                );
            }
            let b = &mut best[k];
            *b = (b.0.min(m.0), b.1.min(m.1), m.2, b.3.min(m.3), b.4.min(m.4));
        }
    }
    print_table(&args, n, &best);
    Ok(())
}

fn print_table(args: &Args, n: usize, best: &[Figures; 2]) {
    let layout = best[0].2;
    let walk = args
        .quantization
        .map_or("full vectors".to_string(), |q| format!("{q} codes"));
    println!(
        "\nHNSW M {} ef_construction {}, walk over {walk}, {n} points ({}); best of {} rounds per load",
        args.m, args.ef_construction, args.dataset, args.rounds
    );
    println!("| load | RSS growth MiB | peak growth MiB | RSS / layout held | load s | RSS after {QUERIES} searches MiB |");
    println!("|---|---|---|---|---|---|");
    for (name, b) in ["for search (serve)", "to change (index)"].iter().zip(best) {
        let queried = if args.quantization.is_some() {
            format!("{:.1}", mib(b.4))
        } else {
            "-".into()
        };
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} | {:.2} | {queried} |",
            mib(b.0),
            mib(b.1),
            b.0 as f64 / layout.max(1) as f64,
            b.3
        );
    }
    println!(
        "layout held for search (vectors or codes, layer-0 and upper blocks, laid links): {:.1} MiB",
        mib(layout)
    );
}
