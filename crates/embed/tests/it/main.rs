//! vsearch-embed's integration tests, one binary (`cargo test --release -p vsearch-embed --test it`; one
//! module: `... --test it int8::`): one module per former test binary, so candle is linked once.

mod candle_reference;
mod clip_fixture;
mod clip_full_size;
mod decode_fuzz;
mod heif_decode;
mod int8;
mod lite0_model;
mod lite0_pickle;
mod scaled_decode;
mod siglip_fixture;
