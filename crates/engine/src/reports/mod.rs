//! User reports and the review queue: visitors report an image for a reason from the policy's list,
//! reports gather in one open case per image, enough distinct reporters within the policy's window
//! hide the image pending review, and a reviewer resolves the case with a block or a dismissal.
//!
//! **Storage.** `reports.sqlite` ([`store::REPORTS_FILE`]) in the collection's records folder
//! ([`crate::Backend::records_dir`]): a local collection's folder, or a Qdrant collection's records
//! folder (`--state DIR`, default `ROOT/.vsearch/qdrant/COLLECTION`). It holds the policy
//! ([`policy::ReportPolicy`]), the cases and the reports (reason, note, time, and the reporter and the
//! client address as keyed digests only). Every change is one SQLite transaction (WAL, `synchronous =
//! FULL`). Two servers over one Qdrant collection share the reports by sharing the records folder:
//! SQLite's locking serialises them on one host, or on a shared filesystem whose POSIX locks work (not
//! every network filesystem's do).
//!
//! **Hiding.** The policy hides an image through the blocks ([`crate::Backend::add_block`]): a block
//! of reach "example only" by [`queue::POLICY_ACTOR`], its reason saying it is pending review, recorded
//! as the case's hold. Dismissing the case lifts it; resolving it with a block makes the reviewer's
//! block, then lifts the hold. Every step (report, hide, resolve, policy change) is a line of the
//! audit log, beside the block and unblock lines the blocks write.

pub mod policy;
pub mod queue;
pub mod store;

pub use policy::ReportPolicy;
pub use queue::{
    list, resolve, set_policy, submit, CaseOrder, CaseView, NewReport, ReportReceipt, Resolution,
};
pub use store::{CaseStatus, ReportStore, REPORTS_FILE};
