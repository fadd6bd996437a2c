//! `vsearch analytics`: the search analytics `vsearch serve` recorded (`analytics purge` deletes them).

use super::records::Records;
use anyhow::Context;
use std::path::PathBuf;
use vsearch_engine::analytics::{now_ms, AnalyticsReport, AnalyticsStore, Window, FILE_NAME};

/// Arguments of `vsearch analytics`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Delete every recorded search and action (and the space they took).
    Purge(Records),
}

#[derive(clap::Args)]
struct ReportArgs {
    #[command(flatten)]
    records: Records,
    /// Whole UTC days to cover, the last being today.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3660))]
    days: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Some(Command::Purge(records)) => {
            let (_, mut store) = open(&records)?;
            let rows = store.purge()?;
            println!(
                "deleted {rows} rows of search analytics from {}",
                store.path().display()
            );
            Ok(())
        }
        None => {
            let (dir, store) = open(&args.report.records)?;
            // The reports store's cases join here (reports per 1,000 views, time to resolution).
            let reported = vsearch_engine::reports::queue::reported_images(&dir)?;
            let report = store.report(Window::last_days(args.report.days, now_ms()), &reported)?;
            if args.report.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&dir, &report);
            }
            Ok(())
        }
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn print_report(dir: &std::path::Path, r: &AnalyticsReport) {
    println!(
        "search analytics of {}, {} to {} ({} day{}, UTC)",
        dir.display(),
        r.from,
        r.to,
        r.days,
        if r.days == 1 { "" } else { "s" }
    );
    println!(
        "searches {}, with no result {} ({}), click-through {}, MRR {:.3}",
        r.searches,
        r.zero_result_searches,
        percent(r.zero_result_rate),
        percent(r.click_through_rate),
        r.mrr
    );
    println!("opens {}, pins {}, views {}", r.opens, r.pins, r.views);
    println!("per day:");
    for d in &r.per_day {
        println!(
            "  {}  searches {:>7}  no result {:>6}  opened {:>6}",
            d.day, d.searches, d.zero_results, d.with_open
        );
    }
    if !r.latency.is_empty() {
        println!("latency, request to answer:");
        for l in &r.latency {
            println!(
                "  {:<8} {:>7} searches  p50 {:.1} ms  p99 {:.1} ms",
                l.index, l.searches, l.p50_ms, l.p99_ms
            );
        }
    }
    if !r.query_kinds.is_empty() {
        let kinds: Vec<String> = r
            .query_kinds
            .iter()
            .map(|c| format!("{} {}", c.name, c.count))
            .collect();
        println!("queries: {}", kinds.join(", "));
    }
    if !r.filter_keys.is_empty() {
        let keys: Vec<String> = r
            .filter_keys
            .iter()
            .map(|c| format!("{} {}", c.name, c.count))
            .collect();
        println!("filter keys: {}", keys.join(", "));
    }
    for (what, groups) in [
        ("folder", &r.reports_per_1000_views.by_folder),
        ("label", &r.reports_per_1000_views.by_label),
    ] {
        if groups.is_empty() {
            continue;
        }
        println!("reports per 1,000 views by {what}:");
        for g in groups {
            let name = if g.name.is_empty() { "(top)" } else { &g.name };
            let rate = g
                .per_1000_views
                .map_or_else(|| "-".to_string(), |x| format!("{x:.1}"));
            println!(
                "  {name:<24} {rate:>8}  ({} reports, {} views)",
                g.reports, g.views
            );
        }
    }
    match r.resolution.median_hours {
        Some(h) => println!(
            "median time from first report to resolution: {h:.1} h ({} resolved)",
            r.resolution.resolved
        ),
        None => println!("median time from first report to resolution: none resolved"),
    }
}

/// The records folder of `records` and its analytics database (an error saying why there is none).
fn open(records: &Records) -> anyhow::Result<(PathBuf, AnalyticsStore)> {
    let dir = records.dir()?;
    let store = AnalyticsStore::open_existing(&dir)?.with_context(|| {
        format!(
            "no search analytics in {}: `vsearch serve` records them there ({FILE_NAME}) unless it runs with --no-analytics",
            dir.display()
        )
    })?;
    Ok((dir, store))
}
