//! `vsearch reports list|resolve|policy`: the review queue of user reports, from the command line.

use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use vsearch_engine::reports::{self, CaseOrder, CaseStatus, CaseView, ReportPolicy, Resolution};
use vsearch_engine::{Backend, DeviceSpec};

/// `vsearch reports`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List report cases: an image, its reports by reason, its distinct reporters, its copies, labels.
    List(ListArgs),
    /// Resolve a case: block the image (and with --near its copies or near images), or dismiss it.
    Resolve(ResolveArgs),
    /// Show the report policy, or change it (reasons, hiding threshold and window, rate limit).
    Policy(PolicyArgs),
}

/// Which collection: a local one, or a Qdrant collection with its records folder.
#[derive(clap::Args)]
pub struct Target {
    /// Collection folder, or an indexed folder containing `.vsearch`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    #[command(flatten)]
    qdrant: super::qdrant::QdrantArgs,
    #[command(flatten)]
    qdrant_read: super::qdrant::QdrantReadArgs,
}

impl Target {
    fn open(&self) -> anyhow::Result<Arc<dyn Backend>> {
        let options =
            self.qdrant_read
                .backend(&self.qdrant, &self.collection, DeviceSpec::Cpu, false)?;
        vsearch_engine::open_backend(&options)
            .with_context(|| format!("cannot open {}", options.describe()))
    }
}

/// Arguments of `vsearch reports list`.
#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    target: Target,
    /// Which cases: open, blocked, dismissed or all.
    #[arg(long, default_value = "open", value_parser = ["open", "blocked", "dismissed", "all"])]
    status: String,
    /// Order: oldest first, or most distinct reporters first.
    #[arg(long, default_value = "oldest", value_parser = ["oldest", "most-reported"])]
    order: String,
    /// Most cases listed.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `vsearch reports resolve`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["block", "dismiss"])))]
pub struct ResolveArgs {
    /// The case (see `vsearch reports list`).
    case: u64,
    #[command(flatten)]
    target: Target,
    /// Block the image (replaces the hold pending review).
    #[arg(long)]
    block: bool,
    /// With --block: `--near` alone blocks the image's copies too; `--near T` everything within cosine
    /// similarity T (as `vsearch block --near`).
    #[arg(long, value_name = "T", num_args = 0..=1, default_missing_value = "copies", requires = "block")]
    near: Option<String>,
    /// Dismiss the case: no action, the image shows again (needs --reason).
    #[arg(long, requires = "reason")]
    dismiss: bool,
    /// Why (recorded with the case and in the audit log).
    #[arg(long)]
    reason: Option<String>,
    /// Who (default: the OS user).
    #[arg(long)]
    by: Option<String>,
    /// Print the closed case as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `vsearch reports policy`.
#[derive(clap::Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    target: Target,
    /// The reasons a report may give, comma-separated (e.g. `spam,harmful,copyright`).
    #[arg(long, value_delimiter = ',')]
    reasons: Option<Vec<String>>,
    /// Distinct reporters within --window that hide an image pending review (0: never).
    #[arg(long, value_name = "N")]
    hide_after: Option<u32>,
    /// The window distinct reporters are counted in: `24h`, `30m`, `7 days`, `90s`.
    #[arg(long, value_name = "DURATION")]
    window: Option<String>,
    /// Reports one client address may file per minute.
    #[arg(long, value_name = "N")]
    per_minute: Option<u32>,
    /// Longest note, in characters.
    #[arg(long, value_name = "N")]
    max_note: Option<usize>,
    /// Who changes it (default: the OS user).
    #[arg(long)]
    by: Option<String>,
    /// Print the policy as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `vsearch reports ...`.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::List(args) => list(args),
        Command::Resolve(args) => resolve(args),
        Command::Policy(args) => policy(args),
    }
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let backend = args.target.open()?;
    let status = match args.status.as_str() {
        "blocked" => Some(CaseStatus::Blocked),
        "dismissed" => Some(CaseStatus::Dismissed),
        "all" => None,
        _ => Some(CaseStatus::Open),
    };
    let order = match args.order.as_str() {
        "most-reported" => CaseOrder::MostReported,
        _ => CaseOrder::Oldest,
    };
    let cases = reports::list(backend.as_ref(), status, order, args.limit.max(1))
        .context("cannot list the report cases")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&cases)?);
        return Ok(());
    }
    if cases.is_empty() {
        println!("no {} report cases", args.status);
    }
    for case in &cases {
        print_case(case);
    }
    Ok(())
}

fn print_case(case: &CaseView) {
    let status = match case.status {
        CaseStatus::Open if case.hidden_pending_review => "open, hidden pending review",
        CaseStatus::Open => "open",
        CaseStatus::Blocked => "blocked",
        CaseStatus::Dismissed => "dismissed",
    };
    let reasons: Vec<String> = case
        .reasons
        .iter()
        .map(|r| format!("{} x{}", r.reason, r.reports))
        .collect();
    println!(
        "case {}: image {} ({}), {status}; {} reporters since {}: {}",
        case.id,
        case.image,
        case.path,
        case.reporters,
        case.opened_at,
        reasons.join(", ")
    );
    if !case.labels.is_empty() {
        println!("  labels: {}", case.labels.join(", "));
    }
    let copies: Vec<String> = case
        .copies
        .iter()
        .map(|n| format!("{} ({})", n.id, n.path))
        .collect();
    if !copies.is_empty() {
        println!("  copies: {}", copies.join(", "));
    }
    for r in case.reports.iter().filter(|r| r.note.is_some()) {
        println!(
            "  {} {} {}: {}",
            r.at,
            r.reporter,
            r.reason,
            r.note.as_deref().unwrap_or_default()
        );
    }
    if let (Some(at), Some(by)) = (&case.closed_at, &case.closed_by) {
        println!(
            "  closed by {by} at {at}: {}{}",
            case.close_reason.as_deref().unwrap_or(""),
            case.block
                .map(|b| format!(" (block {b})"))
                .unwrap_or_default()
        );
    }
}

fn resolve(args: ResolveArgs) -> anyhow::Result<()> {
    let backend = args.target.open()?;
    let resolution = if args.block {
        Resolution::Block {
            reach: super::block::parse_reach(args.near.as_deref())?,
            reason: args.reason,
        }
    } else {
        Resolution::Dismiss {
            reason: args
                .reason
                .context("a dismissal needs --reason (it goes to the audit log)")?,
        }
    };
    let by = args.by.unwrap_or_else(super::block::os_user);
    let (case, _) = reports::resolve(backend.as_ref(), args.case, resolution, &by)
        .with_context(|| format!("cannot resolve report case {}", args.case))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&case)?);
    } else {
        print_case(&case);
    }
    Ok(())
}

fn policy(args: PolicyArgs) -> anyhow::Result<()> {
    let backend = args.target.open()?;
    let mut store =
        reports::queue::open_store(backend.as_ref()).context("cannot open the reports")?;
    let mut policy: ReportPolicy = store.policy()?;
    let changing = args.reasons.is_some()
        || args.hide_after.is_some()
        || args.window.is_some()
        || args.per_minute.is_some()
        || args.max_note.is_some();
    if let Some(reasons) = args.reasons {
        policy.reasons = reasons.into_iter().map(|r| r.trim().to_string()).collect();
    }
    if let Some(n) = args.hide_after {
        policy.hide_after = n;
    }
    if let Some(window) = args.window {
        let span: jiff::SignedDuration = window.parse().with_context(|| {
            format!("--window {window}: expected a duration such as 24h, 30m or 7 days")
        })?;
        anyhow::ensure!(
            span.as_secs() > 0,
            "--window {window}: the window must be at least one second"
        );
        policy.window_secs = span.as_secs() as u64;
    }
    if let Some(n) = args.per_minute {
        policy.per_minute = n;
    }
    if let Some(n) = args.max_note {
        policy.max_note_chars = n;
    }
    if changing {
        drop(store);
        let by = args.by.unwrap_or_else(super::block::os_user);
        reports::set_policy(backend.as_ref(), &policy, &by)
            .context("cannot change the report policy")?;
        store = reports::queue::open_store(backend.as_ref())?;
        policy = store.policy()?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&policy)?);
    } else {
        println!("reasons: {}", policy.reasons.join(", "));
        match policy.hide_after {
            0 => println!("hide pending review: never"),
            n => println!(
                "hide pending review: {n} distinct reporters within {:#}",
                jiff::SignedDuration::from_secs(policy.window_secs as i64)
            ),
        }
        println!("reports per address per minute: {}", policy.per_minute);
        println!("longest note: {} characters", policy.max_note_chars);
        println!("stored in {}", store.path().display());
    }
    Ok(())
}
