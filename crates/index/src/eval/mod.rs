//! Evaluation data and measures, defined once for the index tests and examples and for `vsearch-bench`:
//!
//! - [`ClusteredSpec`]: the clustered synthetic generator, as data (sizes, noise, seed);
//! - dataset files: Fashion-MNIST IDX images ([`FashionMnist`], [`read_idx_images`]) and TEXMEX
//!   `.fvecs`/`.ivecs` ([`read_fvecs`], [`read_ivecs`], [`encode_fvecs`], [`encode_ivecs`]);
//! - [`exact_neighbours`]: ground truth by exact (flat) search;
//! - [`recall_at_k`]: the share of the true k nearest an index finds.

mod formats;
mod ground_truth;
mod recall;
mod synthetic;

pub use formats::{
    encode_fvecs, encode_ivecs, read_fvecs, read_idx_images, read_ivecs, FashionMnist, IdxImages,
    PixelScale, Rows, FASHION_MNIST_DIR, FASHION_MNIST_TEST, FASHION_MNIST_TRAIN,
};
pub use ground_truth::exact_neighbours;
pub use recall::{recall_at_k, Neighbour};
pub use synthetic::{Clustered, ClusteredSpec};
