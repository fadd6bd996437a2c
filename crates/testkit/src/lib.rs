//! vsearch-testkit: what the workspace's tests share, as a dev-dependency of every crate that tests
//! something outside its own code (never a dependency of the product).
//!
//! - [`skip`]: a test that needs a program or CPU feature this machine lacks fails, unless the run allows
//!   that skip by name (`VSEARCH_ALLOW_SKIP`); allowed skips are recorded for `scripts/test.sh` to list.
//! - [`kernels`]: tests of architecture-specific kernels record which levels (avx512, avx2, portable) they
//!   exercised, and list the levels this CPU cannot run as skips.
//! - [`planted`]: planted copies of a photo (half size, mirrored, re-encoded).
//! - [`qdrant`]: a real Qdrant server (one node or a cluster) started from `../shared/tools/qdrant/`.

pub mod kernels;
pub mod planted;
pub mod qdrant;
pub mod skip;
