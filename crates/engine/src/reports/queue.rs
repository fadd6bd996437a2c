//! The review queue over a [`Backend`]: filing a report (and hiding the image pending review when the
//! policy says so), listing the cases with what a reviewer needs, and resolving a case with a block or
//! a dismissal. Hiding goes through the backend's blocks ([`Backend::add_block`],
//! [`Backend::remove_block`]), so a hidden image is hidden the way a takedown hides it, and every step
//! is in the audit log.

use crate::backend::Backend;
use crate::reports::policy::ReportPolicy;
use crate::reports::store::{
    CaseRow, CaseStatus, ReasonCount, ReportInput, ReportRow, ReportStore,
};
use crate::safety::blocks::{append_audit, BlockSource, NewBlock, Reach};
use crate::safety::dupes::CopyView;
use crate::types::error::{EngineError, Result};
use crate::types::image_id::ImageId;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// Who the blocks that hide an image pending review are recorded as.
pub const POLICY_ACTOR: &str = "report policy";

/// A report as a visitor files it.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub image: ImageId,
    /// One of the policy's reasons.
    pub reason: String,
    /// An optional note (at most the policy's `max_note_chars`).
    pub note: Option<String>,
    /// The opaque id the reporter's page keeps (1 to 128 characters).
    pub reporter: String,
    /// The client's address.
    pub address: String,
}

/// Longest reporter id, in characters.
pub const MAX_REPORTER_CHARS: usize = 128;

/// What filing a report did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportReceipt {
    /// The image's case.
    pub case: u64,
    /// `false` when the reporter had reported this image already (counted once).
    pub counted: bool,
    /// Distinct reporters of the case within the policy's window.
    pub reporters: u32,
    /// Whether this report hid the image pending review.
    pub hidden: bool,
}

/// How a reviewer resolves a case.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Block the image (with `reach`, as `vsearch block --near` does); lifts the hold.
    Block {
        reach: Reach,
        /// Why (default: the case and its reasons).
        reason: Option<String>,
    },
    /// No action: lifts the hold (the image shows again).
    Dismiss {
        /// Why (required).
        reason: String,
    },
}

/// Order of the case list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseOrder {
    /// Oldest case first.
    #[default]
    Oldest,
    /// Most distinct reporters first (then oldest).
    MostReported,
}

/// A case as a reviewer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseView {
    pub id: u64,
    pub image: ImageId,
    /// Path relative to the indexed folder.
    pub path: String,
    pub status: CaseStatus,
    /// RFC 3339.
    pub opened_at: String,
    /// Distinct reporters, all reports.
    pub reporters: u32,
    /// Its reports grouped by reason, most given first.
    pub reasons: Vec<ReasonCount>,
    /// Its reports, oldest first (reporters as short digests).
    pub reports: Vec<ReportRow>,
    /// Whether the policy hides it pending review now.
    pub hidden_pending_review: bool,
    /// The block hiding it pending review (while it does, and after for the record).
    pub hold_block: Option<u64>,
    /// Its labels (flags and hiding labels).
    pub labels: Vec<String>,
    /// Its verified copies, closest first (empty where the backend cannot tell, and for closed cases).
    pub copies: Vec<CopyView>,
    /// When the case was closed, RFC 3339.
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub close_reason: Option<String>,
    /// The block a resolve-block made.
    pub block: Option<u64>,
}

/// The records folder of `backend`, or the error that says how to give it one.
pub fn records(backend: &dyn Backend) -> Result<PathBuf> {
    backend
        .records_dir()
        .ok_or(EngineError::NoRecords { what: "reports" })
}

/// Opens the reports of `backend`.
pub fn open_store(backend: &dyn Backend) -> Result<ReportStore> {
    ReportStore::open(&records(backend)?)
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn audit(backend: &dyn Backend, event: serde_json::Value) -> Result<()> {
    append_audit(&records(backend)?, &event)
}

/// Files a report: checks it against the policy, stores it, and hides the image pending review when
/// the case reaches the policy's threshold. Returns what it did and, when it hid the image, the state
/// of the backend that applies the hold.
pub fn submit(
    backend: &dyn Backend,
    report: NewReport,
) -> Result<(ReportReceipt, Option<Arc<dyn Backend>>)> {
    let mut store = open_store(backend)?;
    let policy = store.policy()?;
    let bad = |reason: String| Err(EngineError::BadQuery { reason });
    let reason = report.reason.trim().to_string();
    if !policy.allows(&reason) {
        return bad(format!(
            "`{}` is not a report reason here; give one of: {}",
            truncate(&reason, 64),
            policy.reasons.join(", ")
        ));
    }
    let note = report
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if let Some(n) = &note {
        let chars = n.chars().count();
        if chars > policy.max_note_chars {
            return bad(format!(
                "the note is {chars} characters; at most {} are kept",
                policy.max_note_chars
            ));
        }
    }
    let reporter = report.reporter.trim();
    if reporter.is_empty() || reporter.chars().count() > MAX_REPORTER_CHARS {
        return bad(format!(
            "a report needs a reporter id of 1 to {MAX_REPORTER_CHARS} characters"
        ));
    }
    // The image must be there and shown (a hidden image answers Blocked).
    let meta = backend.image_meta(report.image)?;
    let (mut labels, hidden_by) = backend.marks(report.image);
    labels.extend(hidden_by);
    let now = now_secs();
    let filed = store.file(
        &ReportInput {
            image: report.image,
            reason: reason.clone(),
            note,
            reporter: reporter.to_string(),
            address: report.address,
            path: meta.path.clone(),
            labels,
        },
        &policy,
        now,
    )?;
    if filed.counted {
        audit(
            backend,
            serde_json::json!({
                "at": rfc3339(now),
                "by": format!("reporter {}", &filed.reporter[..8]),
                "action": "report",
                "case": filed.case,
                "image": report.image,
                "path": meta.path,
                "reason": reason,
                "reporters": filed.reporters,
            }),
        )?;
    }
    let mut next = None;
    if filed.hide {
        match hide_pending_review(
            backend,
            &mut store,
            &policy,
            filed.case,
            report.image,
            filed.reporters,
        ) {
            Ok(state) => next = Some(state),
            // The report is filed and the case queued either way: the visitor is not told of a failure
            // of the collection's, which the log and the audit log record for the operator.
            Err(e) => {
                store.set_hold(filed.case, None)?;
                tracing::warn!(
                    "report case {}: cannot hide image {} pending review: {e}",
                    filed.case,
                    report.image
                );
                audit(
                    backend,
                    serde_json::json!({
                        "at": rfc3339(now_secs()),
                        "by": POLICY_ACTOR,
                        "action": "hide_pending_review_failed",
                        "case": filed.case,
                        "image": report.image,
                        "error": e.to_string(),
                    }),
                )?;
            }
        }
    }
    Ok((
        ReportReceipt {
            case: filed.case,
            counted: filed.counted,
            reporters: filed.reporters,
            hidden: next.is_some(),
        },
        next,
    ))
}

fn hide_pending_review(
    backend: &dyn Backend,
    store: &mut ReportStore,
    policy: &ReportPolicy,
    case: u64,
    image: ImageId,
    reporters: u32,
) -> Result<Arc<dyn Backend>> {
    let hours = policy.window_secs as f64 / 3600.0;
    let (view, next) = backend.add_block(NewBlock {
        source: block_source(image)?,
        reach: Reach::Example,
        reason: format!(
            "pending review: report case {case}, {reporters} reporters within {hours} h (lifted by dismiss, replaced by resolve-block)"
        ),
        by: POLICY_ACTOR.into(),
    })?;
    store.set_hold(case, Some(view.id))?;
    audit(
        backend,
        serde_json::json!({
            "at": rfc3339(now_secs()),
            "by": POLICY_ACTOR,
            "action": "hide_pending_review",
            "case": case,
            "image": image,
            "reporters": reporters,
            "hold_block": view.id,
        }),
    )?;
    tracing::info!(
        "report case {case}: image {image} hidden pending review ({reporters} reporters, block {})",
        view.id
    );
    Ok(next)
}

/// The block example of a case's image (a local image's number or a Qdrant point's id).
fn block_source(image: ImageId) -> Result<BlockSource> {
    Ok(BlockSource::Id(image))
}

fn truncate(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}

/// The cases in `status` (every case with `None`) as a reviewer sees them, in `order`, at most `limit`.
pub fn list(
    backend: &dyn Backend,
    status: Option<CaseStatus>,
    order: CaseOrder,
    limit: usize,
) -> Result<Vec<CaseView>> {
    let store = open_store(backend)?;
    let mut rows = store.cases(status)?;
    let mut views = Vec::with_capacity(rows.len().min(limit));
    // Reporter counts first, for the order.
    let mut counted: Vec<(CaseRow, Vec<ReportRow>)> = rows
        .drain(..)
        .map(|row| {
            let reports = store.reports(row.id)?;
            Ok((row, reports))
        })
        .collect::<Result<_>>()?;
    if order == CaseOrder::MostReported {
        counted.sort_by_key(|(row, reports)| (std::cmp::Reverse(distinct(reports)), row.id));
    }
    for (row, reports) in counted.into_iter().take(limit) {
        views.push(view(backend, row, reports));
    }
    Ok(views)
}

fn distinct(reports: &[ReportRow]) -> u32 {
    reports
        .iter()
        .map(|r| r.reporter.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len() as u32
}

fn view(backend: &dyn Backend, row: CaseRow, reports: Vec<ReportRow>) -> CaseView {
    let mut reasons: Vec<ReasonCount> = Vec::new();
    for r in &reports {
        match reasons.iter_mut().find(|c| c.reason == r.reason) {
            Some(c) => c.reports += 1,
            None => reasons.push(ReasonCount {
                reason: r.reason.clone(),
                reports: 1,
            }),
        }
    }
    reasons.sort_by(|a, b| b.reports.cmp(&a.reports).then(a.reason.cmp(&b.reason)));
    let copies = if row.status == CaseStatus::Open {
        backend.copies(row.image).unwrap_or_else(|e| {
            tracing::debug!("case {}: no copies: {e}", row.id);
            Vec::new()
        })
    } else {
        Vec::new()
    };
    // Held, and hidden now (a hold lifted by hand leaves the image shown).
    let hidden_pending_review = row.status == CaseStatus::Open
        && row.hold_block.is_some()
        && matches!(
            backend.image_meta(row.image),
            Err(EngineError::Blocked { .. })
        );
    CaseView {
        id: row.id,
        image: row.image,
        path: row.path,
        status: row.status,
        opened_at: rfc3339(row.opened_at),
        reporters: distinct(&reports),
        reasons,
        reports,
        hidden_pending_review,
        hold_block: row.hold_block,
        labels: row.labels,
        copies,
        closed_at: row.closed_at.map(rfc3339),
        closed_by: row.closed_by,
        close_reason: row.close_reason,
        block: row.block,
    }
}

/// One case as a reviewer sees it.
pub fn case(backend: &dyn Backend, case: u64) -> Result<CaseView> {
    let store = open_store(backend)?;
    let row = store.case(case)?;
    let reports = store.reports(case)?;
    Ok(view(backend, row, reports))
}

/// Resolves the open case `case` by `by`: a block (made as `vsearch block` makes it, then the hold
/// lifted) or a dismissal (the hold lifted). Returns the closed case and, when blocks changed, the
/// state of the backend that applies them.
pub fn resolve(
    backend: &dyn Backend,
    case_id: u64,
    resolution: Resolution,
    by: &str,
) -> Result<(CaseView, Option<Arc<dyn Backend>>)> {
    let by = by.trim();
    if by.is_empty() {
        return Err(EngineError::BadQuery {
            reason: "a resolution needs to say who makes it".into(),
        });
    }
    let mut store = open_store(backend)?;
    let row = store.case(case_id)?;
    if row.status != CaseStatus::Open {
        return Err(EngineError::CaseClosed {
            id: case_id,
            status: row.status.as_str(),
        });
    }
    let now = now_secs();
    let mut state: Option<Arc<dyn Backend>> = None;
    let (status, reason, block) = match &resolution {
        Resolution::Block { reach, reason } => {
            let reason = reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    let reasons: Vec<String> = store
                        .reports(case_id)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|r| r.reason)
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    format!("report case {case_id}: {}", reasons.join(", "))
                });
            let (view, next) = backend.add_block(NewBlock {
                source: block_source(row.image)?,
                reach: *reach,
                reason: reason.clone(),
                by: by.to_string(),
            })?;
            state = Some(next);
            (CaseStatus::Blocked, reason, Some(view.id))
        }
        Resolution::Dismiss { reason } => {
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(EngineError::BadQuery {
                    reason: "a dismissal needs a reason".into(),
                });
            }
            (CaseStatus::Dismissed, reason.to_string(), None)
        }
    };
    if let Some(hold) = row.hold_block {
        let on: &dyn Backend = match &state {
            Some(s) => s.as_ref(),
            None => backend,
        };
        let why = match block {
            Some(b) => format!("report case {case_id} resolved: replaced by block {b}"),
            None => format!("report case {case_id} dismissed: {reason}"),
        };
        match on.remove_block(hold, by, Some(&why)) {
            Ok((_, next)) => state = Some(next),
            // Lifted by hand meanwhile: nothing left to lift.
            Err(EngineError::NoSuchBlock { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    store.close(case_id, status, by, Some(&reason), block, now)?;
    audit(
        backend,
        serde_json::json!({
            "at": rfc3339(now),
            "by": by,
            "action": "resolve",
            "resolution": match status { CaseStatus::Blocked => "block", _ => "dismiss" },
            "case": case_id,
            "image": row.image,
            "reason": reason,
            "block": block,
            "hold_block": row.hold_block,
        }),
    )?;
    tracing::info!(
        "report case {case_id} resolved by {by}: {}",
        status.as_str()
    );
    let on: &dyn Backend = match &state {
        Some(s) => s.as_ref(),
        None => backend,
    };
    let view = case(on, case_id)?;
    Ok((view, state))
}

/// Sets the report policy of `backend`'s collection and records the change in the audit log.
pub fn set_policy(backend: &dyn Backend, policy: &ReportPolicy, by: &str) -> Result<()> {
    let mut store = open_store(backend)?;
    store.set_policy(policy)?;
    audit(
        backend,
        serde_json::json!({
            "at": rfc3339(now_secs()),
            "by": by,
            "action": "report_policy",
            "policy": policy,
        }),
    )
}

/// Open cases of `backend`'s collection, for the metrics; `None` when it keeps no reports (no records
/// folder, or no report filed yet: the database is not made just to count).
pub fn open_count(backend: &dyn Backend) -> Result<Option<u64>> {
    let Some(dir) = backend.records_dir() else {
        return Ok(None);
    };
    if !dir.join(crate::reports::store::REPORTS_FILE).exists() {
        return Ok(None);
    }
    ReportStore::open(&dir)?.open_count().map(Some)
}

/// Every report case of the records folder `records` as the analytics report reads it (reports per
/// 1,000 views by folder and label, time from the first report to resolution): one entry per case, with
/// the folder and labels its image had when the case opened; empty when no report was ever filed.
pub fn reported_images(records: &std::path::Path) -> Result<Vec<crate::analytics::ReportedImage>> {
    if !records.join(crate::reports::store::REPORTS_FILE).exists() {
        return Ok(Vec::new());
    }
    let store = ReportStore::open(records)?;
    let mut out = Vec::new();
    for case in store.cases(None)? {
        let reports = store.reports(case.id)?;
        let first_reported_ms = reports
            .iter()
            .filter_map(|r| r.at.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond())
            .min()
            .unwrap_or(case.opened_at * 1000);
        out.push(crate::analytics::ReportedImage {
            image: case.image.to_string(),
            folder: case
                .path
                .rsplit_once('/')
                .map_or(String::new(), |(folder, _)| folder.to_string()),
            labels: case.labels.clone(),
            reports: reports.len() as u64,
            first_reported_ms,
            resolved_ms: case.closed_at.map(|s| s * 1000),
        });
    }
    Ok(out)
}
