//! `vsearch search`: query a collection from the command line.

use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::filter::Filter;
use vsearch_engine::{Board, Crop, Example, ImageId, IndexKind, Query, QueryOptions, SearchParams};

/// Arguments of `vsearch search`.
///
/// Examples may be repeated and mixed: `--image a.jpg --id 12 --weight 0.5 --not-text "blurry"` searches
/// for images like a.jpg and (half as much) like image 12, away from "blurry". A `--weight` or a `--crop`
/// applies to the example given just before it.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("query").required(true).multiple(true).args(["image", "id", "text"])))]
pub struct Args {
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// Search like an image file (repeatable).
    #[arg(long)]
    image: Vec<PathBuf>,
    /// Search like an indexed image, by id (repeatable; a UUID in a Qdrant collection).
    #[arg(long)]
    id: Vec<ImageId>,
    /// Search by text (CLIP collections only; repeatable).
    #[arg(long)]
    text: Vec<String>,
    /// Search away from an image file (repeatable).
    #[arg(long)]
    not_image: Vec<PathBuf>,
    /// Search away from an indexed image (repeatable).
    #[arg(long)]
    not_id: Vec<ImageId>,
    /// Search away from a text (repeatable).
    #[arg(long)]
    not_text: Vec<String>,
    /// Weight of the example given just before (default 1).
    #[arg(long, allow_negative_numbers = false)]
    weight: Vec<f32>,
    /// Search for the region X,Y,W,H (fractions of the image, from its top-left corner) of the image or id
    /// given just before, e.g. `--id 12 --crop 0.25,0.25,0.5,0.5`.
    #[arg(long, value_name = "X,Y,W,H")]
    crop: Vec<String>,
    /// Only images matching this filter, as JSON in Qdrant's grammar, e.g.
    /// '{"must": [{"key": "folder", "match": {"value": "trips/2024"}}]}'.
    #[arg(long, value_name = "JSON")]
    filter: Option<String>,
    /// Number of results.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Results to skip (pages: --offset 20 -k 10 is the third page).
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// Index to use (default: the first of hnsw, ivf, flat the collection has).
    #[arg(long, value_enum)]
    index: Option<IndexKind>,
    /// HNSW: size of the candidate list.
    #[arg(long)]
    ef: Option<usize>,
    /// IVF: number of lists visited.
    #[arg(long)]
    nprobe: Option<usize>,
    /// Drop results scoring below this.
    #[arg(long)]
    min_score: Option<f32>,
    /// One result per duplicate group: the best-scoring copy leads, the others are listed after it
    /// (default: the collection's `ranking.json`, else off).
    #[arg(long, overrides_with = "no_collapse")]
    collapse: bool,
    /// Every copy as its own result (overrides `--collapse` and the collection's default).
    #[arg(long)]
    no_collapse: bool,
    /// Diversity of the results, 0 (off) to 1: maximal marginal relevance over the stored vectors.
    #[arg(long, value_name = "W", value_parser = parse_diversity)]
    diversity: Option<f32>,
    /// Device for the model: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    qdrant: super::qdrant::QdrantArgs,
    #[command(flatten)]
    qdrant_read: super::qdrant::QdrantReadArgs,
}

/// One example as given on the command line: where it was, whether it is against, and what it is.
struct Given {
    at: usize,
    negative: bool,
    example: Example,
    weighted: bool,
}

/// The examples of the command line in the order given, with each `--weight` and `--crop` applied to the
/// example just before it. `matches` are the subcommand's (for the positions of the arguments).
fn examples(args: &Args, matches: &clap::ArgMatches) -> anyhow::Result<Board> {
    let mut given = Vec::new();
    let mut add = |name: &str, negative: bool, queries: Vec<Query>| {
        let at = matches.indices_of(name).into_iter().flatten();
        for (at, query) in at.zip(queries) {
            given.push(Given {
                at,
                negative,
                example: Example::new(query),
                weighted: false,
            });
        }
    };
    let read = |paths: &[PathBuf]| -> anyhow::Result<Vec<Query>> {
        paths
            .iter()
            .map(|p| {
                std::fs::read(p)
                    .map(Query::ImageBytes)
                    .with_context(|| format!("cannot read {}", p.display()))
            })
            .collect()
    };
    add("image", false, read(&args.image)?);
    add("id", false, args.id.iter().map(|&i| Query::Id(i)).collect());
    add(
        "text",
        false,
        args.text.iter().cloned().map(Query::Text).collect(),
    );
    add("not_image", true, read(&args.not_image)?);
    add(
        "not_id",
        true,
        args.not_id.iter().map(|&i| Query::Id(i)).collect(),
    );
    add(
        "not_text",
        true,
        args.not_text.iter().cloned().map(Query::Text).collect(),
    );
    given.sort_by_key(|g| g.at);
    let before = |given: &mut [Given], at: usize, flag: &str| -> anyhow::Result<usize> {
        given
            .iter()
            .rposition(|g| g.at < at)
            .with_context(|| format!("{flag} applies to the example given before it: put it after --image, --id or --text"))
    };
    for (at, &weight) in matches
        .indices_of("weight")
        .into_iter()
        .flatten()
        .zip(&args.weight)
    {
        anyhow::ensure!(
            weight.is_finite() && weight >= 0.0,
            "--weight must be a number >= 0, got {weight}"
        );
        let i = before(&mut given, at, "--weight")?;
        anyhow::ensure!(!given[i].weighted, "two --weight for one example");
        given[i].example.weight = weight;
        given[i].weighted = true;
    }
    for (at, crop) in matches
        .indices_of("crop")
        .into_iter()
        .flatten()
        .zip(&args.crop)
    {
        let i = before(&mut given, at, "--crop")?;
        anyhow::ensure!(
            matches!(given[i].example.query, Query::ImageBytes(_) | Query::Id(_)),
            "--crop applies to an --image or an --id, not to a text"
        );
        anyhow::ensure!(
            given[i].example.crop.is_none(),
            "two --crop for one example"
        );
        given[i].example.crop = Some(parse_crop(crop)?);
    }
    let mut board = Board::default();
    for g in given {
        if g.negative {
            board.negative.push(g.example);
        } else {
            board.positive.push(g.example);
        }
    }
    Ok(board)
}

/// `X,Y,W,H` as fractions.
/// Parses a diversity weight, 0 to 1.
fn parse_diversity(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(w) if (0.0..=1.0).contains(&w) => Ok(w),
        _ => Err(format!("expected a number from 0 (off) to 1, got `{text}`")),
    }
}

fn parse_crop(text: &str) -> anyhow::Result<Crop> {
    let parts: Vec<f32> = text
        .split(',')
        .map(|p| p.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--crop {text}: expected four numbers X,Y,W,H"))?;
    let [x, y, w, h] = parts[..] else {
        anyhow::bail!(
            "--crop {text}: expected four numbers X,Y,W,H, got {}",
            parts.len()
        );
    };
    Ok(Crop { x, y, w, h })
}

pub fn run(args: Args, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=10_000).contains(&args.k),
        "-k must be between 1 and 10000"
    );
    let filter = match &args.filter {
        None => None,
        Some(json) => {
            let value: serde_json::Value = serde_json::from_str(json)
                .with_context(|| format!("--filter is not JSON: {json}"))?;
            Some(Filter::from_json(&value).context("--filter")?)
        }
    };
    let mut board = examples(&args, matches)?;
    let single = board.positive.len() == 1
        && board.negative.is_empty()
        && board.positive[0].weight == 1.0
        && board.positive[0].crop.is_none();
    let query = match board.positive.pop() {
        Some(example) if single => example.query,
        Some(example) => {
            board.positive.push(example);
            Query::Board(board)
        }
        None => anyhow::bail!("give at least one of --image FILE, --id N or --text \"...\""),
    };
    let ids_only = |q: &Query| match q {
        Query::Id(_) => true,
        Query::Board(b) => b
            .positive
            .iter()
            .chain(&b.negative)
            .all(|e| matches!(e.query, Query::Id(_)) && e.crop.is_none()),
        _ => false,
    };
    let options = QueryOptions {
        k: args.k,
        offset: args.offset,
        index: args.index,
        params: SearchParams {
            ef_search: args.ef,
            nprobe: args.nprobe,
            rerank: None,
        },
        min_score: args.min_score,
        filter,
        collapse: match (args.collapse, args.no_collapse) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        diversity: args.diversity,
    };
    let backend = args.qdrant_read.backend(
        &args.qdrant,
        &args.collection,
        args.device.parse()?,
        !ids_only(&query),
    )?;
    let opened = vsearch_engine::open_backend(&backend)
        .with_context(|| format!("cannot open {}", backend.describe()))?;
    let response = vsearch_engine::answers::search(&*opened, &query, &options, &Default::default())
        .context("search failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&response)?);
        return Ok(());
    }
    let ranked = response
        .ranking
        .as_ref()
        .is_some_and(|r| r.steps.iter().any(|s| s != "min_score"));
    if ranked {
        println!(
            "{:>4}  {:>8}  {:>4}  {:>8}  {:>8}  PATH",
            "RANK", "SCORE", "WAS", "COSINE", "ID"
        );
    } else {
        println!("{:>4}  {:>8}  {:>8}  PATH", "RANK", "SCORE", "ID");
    }
    for r in &response.results {
        let copies = if r.copies.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = r.copies.iter().map(ToString::to_string).collect();
            format!("  (+{} copies: {})", r.copies.len(), ids.join(", "))
        };
        match (ranked, r.original_rank, r.original_score) {
            (true, Some(was), Some(cosine)) => println!(
                "{:>4}  {:>8.4}  {:>4}  {:>8.4}  {:>8}  {}{copies}",
                r.rank, r.score, was, cosine, r.id, r.path
            ),
            _ => println!(
                "{:>4}  {:>8.4}  {:>8}  {}{copies}",
                r.rank, r.score, r.id, r.path
            ),
        }
        // A video's other frames among the results, folded into its best one.
        if !r.frames.is_empty() {
            let times: Vec<String> = r.frames.iter().map(|f| format!("{}s", f.seconds)).collect();
            println!("{:>24}  also at {}", "", times.join(", "));
        }
    }
    if let Some(ranking) = response.ranking.as_ref().filter(|_| ranked) {
        println!(
            "(ranking: {} over {} candidates)",
            ranking.steps.join(", "),
            ranking.candidates
        );
    }
    let filtered = match response.filter {
        Some(f) => format!(
            ", filter keeps {} of {} images{}",
            f.matched,
            f.total,
            if f.exact { ", searched exactly" } else { "" }
        ),
        None => String::new(),
    };
    println!(
        "({} results from the {} index{filtered}, model {}, embed {:.1} ms, search {:.2} ms{})",
        response.results.len(),
        response.index,
        response.model,
        response.embed_ms,
        response.search_ms,
        if response.more {
            format!("; more with --offset {}", args.offset + args.k)
        } else {
            String::new()
        }
    );
    Ok(())
}
