//! The few primitives every vsearch crate shares, each defined once:
//!
//! - [`vector`]: L2 normalisation and the dot product on `f32` slices;
//! - [`codec`]: little-endian encodings of `f32`, `u64` and `i32` slices (every on-disk vector and id file);
//! - [`durable`]: file writes that survive a crash (write beside, fsync, rename, fsync the folder);
//! - [`quantization`]: the compact codes an index may search through instead of the full vectors;
//! - [`simd`]: the instruction sets the CPU kernels are written for, detected at run time.
//!
//! This crate knows nothing of images, models, indexes, HTTP or the command line; errors are plain
//! [`std::io::Error`]s or [`codec::LengthError`], and callers add the path and context.

pub mod codec;
pub mod durable;
pub mod quantization;
pub mod simd;
pub mod vector;
