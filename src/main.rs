//! `vsearch`: visual search over an image folder.

mod allocator;
mod cli;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Visual search: embed an image folder, index it (HNSW, IVF, exact), query it from the command line or over HTTP.
#[derive(Parser)]
#[command(name = "vsearch", version, about, long_about = None)]
struct Cli {
    /// Log filter (e.g. `info`, `vsearch=debug`); also read from RUST_LOG.
    #[arg(
        long,
        global = true,
        default_value = "info,hnsw_rs=warn",
        env = "RUST_LOG"
    )]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print embeddings of image files (or of text, for CLIP models) as JSON lines.
    Embed(cli::embed::Args),
    /// List or fetch models.
    #[command(subcommand)]
    Models(cli::models::Command),
    /// Index an image folder into a collection (incremental).
    Index(cli::index::Args),
    /// Query a collection from the command line.
    Search(cli::search::Args),
    /// Serve the HTTP API and web page over a collection.
    Serve(cli::serve::Args),
    /// Block (take down) an image and, with --near, its copies or near images from every search and listing.
    Block(cli::block::BlockArgs),
    /// List the blocks in force and what each hides.
    Blocks(cli::block::BlocksArgs),
    /// Lift a block.
    Unblock(cli::block::UnblockArgs),
    /// The review queue of user reports: `reports list`, `reports resolve`, `reports policy`.
    #[command(subcommand)]
    Reports(cli::reports::Command),
    /// Benchmark HNSW, IVF and exact search: recall, QPS, latency, build time, memory.
    Bench(cli::bench::Args),
    /// Zero-shot labels of a collection (CLIP-family models).
    #[command(subcommand)]
    Labels(cli::labels::Command),
    /// List groups of duplicate images (exact and near copies), best copy first.
    Dupes(cli::dupes::Args),
    /// Banks of known-bad PDQ hashes (partners' lists, other collections' takedowns): import, list, remove,
    /// export, scan. Index runs block the images that match as they arrive.
    #[command(subcommand)]
    Hashes(cli::hashes::Command),
    /// Measure a collection against truth: `eval dupes`, `eval labels`.
    #[command(subcommand)]
    Eval(cli::eval::Command),
    /// Search analytics recorded by `vsearch serve`: searches per day, zero-result rate, click-through,
    /// MRR, latency; `analytics purge` deletes them.
    Analytics(cli::analytics::Args),
    /// The learned re-ranker: `rank train` (from the search analytics), `rank eval` (on their held-out
    /// part), `rank simulate` (simulated users of a ukbench collection).
    Rank(cli::rank::Args),
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if !matches!(cli.command, Command::Serve(_)) {
        restore_default_sigpipe();
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log).map_err(|e| {
        anyhow::anyhow!(
            "invalid log filter {:?}: {e} (try `--log info` or `--log vsearch=debug`)",
            cli.log
        )
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Embed(args) => cli::embed::run(args),
        Command::Models(cmd) => cli::models::run(cmd),
        Command::Index(args) => cli::index::run(args),
        Command::Search(args) => {
            // The positions of repeated arguments (which example a --weight follows) come from the matches.
            let empty = clap::ArgMatches::default();
            cli::search::run(args, matches.subcommand_matches("search").unwrap_or(&empty))
        }
        Command::Serve(args) => cli::serve::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Labels(cmd) => cli::labels::run(cmd),
        Command::Dupes(args) => cli::dupes::run(args),
        Command::Eval(cmd) => cli::eval::run(cmd),
        Command::Hashes(cmd) => cli::hashes::run(cmd),
        Command::Block(args) => cli::block::block(args),
        Command::Blocks(args) => cli::block::blocks(args),
        Command::Unblock(args) => cli::block::unblock(args),
        Command::Reports(cmd) => cli::reports::run(cmd),
        Command::Analytics(args) => cli::analytics::run(args),
        Command::Rank(args) => cli::rank::run(args),
    }
}

/// Commands that print to stdout end quietly when the reader goes away (`vsearch search --json | head`), as Unix
/// tools do, instead of panicking on a broken pipe. The server keeps Rust's default (SIGPIPE ignored).
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called once at start, before any thread is spawned; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
