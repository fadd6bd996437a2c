//! What an index is built and searched with: the build parameters of each kind ([`HnswParams`],
//! [`IvfParams`]) in one [`IndexConfig`], their measured defaults, and the per-query [`SearchParams`].

use crate::kind::IndexKind;
use serde::{Deserialize, Serialize};
use vsearch_core::quantization::Quantization;

/// Per-query knobs; each index reads the ones that concern it and falls back to its defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    /// HNSW: size of the dynamic candidate list.
    pub ef_search: Option<usize>,
    /// IVF: number of inverted lists visited.
    pub nprobe: Option<usize>,
    /// IVF with quantised codes (PQ, SQ8, PQ fast-scan): re-rank candidates with exact distances.
    pub rerank: Option<bool>,
}

/// HNSW build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Neighbours per node (hnsw_rs `max_nb_connection`).
    pub m: usize,
    pub ef_construction: usize,
    /// Default `ef_search` when a query gives none.
    pub ef_search: usize,
    /// Walk the graph over compact codes instead of the full vectors, and re-score the `ef` candidates
    /// found with the full vectors (kept on disk and memory-mapped by an index opened for search only);
    /// `None` walks the full vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
}

/// Default graph degree.
///
/// Measured with `cargo run --release -p vsearch-index --example hnsw_defaults` (2-core AVX2 machine,
/// 300 queries, recall@10 against flat, single-thread ms/query) on 20k clustered synthetic vectors
/// (100 clusters; d = 128 L2 and d = 512 cosine) and a 10k Fashion-MNIST subset (L2, t10k queries).
/// The cheapest grid point (M in 8/12/16, ef_construction in 64/100/200, ef_search in 16..64) reaching
/// recall@10 >= 0.95 on all three with margin: M = 16, ef_construction = 100, ef_search = 32 gives
/// 0.986 / 0.989 / 0.998 at about 0.13-0.15 ms/query, builds in 3.6 s / 5.3 s / 2.1 s
/// (ef_construction = 200 doubles build time for +0.01 recall; M = 8 or 12 need larger ef for the same
/// recall; ef_construction = 64 gives only 0.963 on d = 128).
pub const DEFAULT_M: usize = 16;
/// Default build-time candidate list (see [`DEFAULT_M`] for the measurements).
pub const DEFAULT_EF_CONSTRUCTION: usize = 100;
/// Default query-time candidate list (see [`DEFAULT_M`] for the measurements).
pub const DEFAULT_EF_SEARCH: usize = 32;

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: DEFAULT_M,
            ef_construction: DEFAULT_EF_CONSTRUCTION,
            ef_search: DEFAULT_EF_SEARCH,
            quantization: None,
        }
    }
}

/// IVF code kind: what the inverted lists hold for each vector.
///
/// Serialised with a `type` tag: `{"type":"flat"}`, `{"type":"pq","m":..,"bits":..}`, `{"type":"sq8"}`,
/// `{"type":"pq4fs","m":..}`. Every kind but [`IvfCodes::Flat`] is quantised: its index also keeps the raw
/// vectors ([`IvfCodes::keeps_raw`]) to re-rank candidates exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum IvfCodes {
    /// Full vectors in the lists (FAISS `IVF{nlist},Flat`).
    Flat,
    /// Product quantisation: `m` sub-vectors of `bits` bits each (FAISS `IVF{nlist},PQ{m}x{bits}np`).
    Pq { m: usize, bits: usize },
    /// Scalar quantisation, 8 bits per dimension (FAISS `IVF{nlist},SQ8`): `dim` bytes per vector, a
    /// quarter of the f32 vector, each dimension quantised over its trained range.
    Sq8,
    /// Product quantisation with 4-bit codes scanned by FAISS's SIMD fast-scan kernels (FAISS
    /// `IVF{nlist},PQ{m}x4fs`, blocks of 32 codes): `m` sub-vectors of 4 bits, `ceil(m / 2)` bytes per
    /// vector. `m` must divide the dimension; FAISS pads an odd `m` to `m + 1` in its blocks.
    #[serde(rename = "pq4fs")]
    PqFastScan { m: usize },
}

/// Bits per code of [`IvfCodes::PqFastScan`]: FAISS's fast-scan kernels take 4-bit codes only.
pub const FAST_SCAN_BITS: usize = 4;
/// Codes per block of [`IvfCodes::PqFastScan`]'s inverted lists (FAISS's `bbs`, its factory default; FAISS
/// requires a multiple of 32). Each list is padded to whole blocks.
pub const FAST_SCAN_BLOCK: usize = 32;

impl IvfCodes {
    /// Whether an index of these codes keeps the raw vectors beside FAISS to re-rank candidates exactly:
    /// every quantised kind (all but [`IvfCodes::Flat`], whose codes are the vectors).
    pub fn keeps_raw(self) -> bool {
        !matches!(self, IvfCodes::Flat)
    }

    /// Bytes of one vector's code in the inverted lists, for vectors of `dim` values (without the id, and
    /// without the padding of [`IvfCodes::PqFastScan`]'s blocks).
    pub fn code_bytes(self, dim: usize) -> usize {
        match self {
            IvfCodes::Flat => 4 * dim,
            IvfCodes::Pq { m, bits } => (m * bits).div_ceil(8),
            IvfCodes::Sq8 => dim,
            IvfCodes::PqFastScan { m } => m.div_ceil(2),
        }
    }

    /// Bytes of the trained quantiser beside the coarse centroids, for vectors of `dim` values: the PQ
    /// codebooks (`2^bits` centroids of `dim` floats over all sub-quantisers), or SQ8's per-dimension
    /// minimum and range.
    pub fn codebook_bytes(self, dim: usize) -> usize {
        match self {
            IvfCodes::Flat => 0,
            IvfCodes::Pq { bits, .. } => (1usize << bits.min(16)) * dim * 4,
            IvfCodes::Sq8 => 2 * dim * 4,
            IvfCodes::PqFastScan { .. } => (1usize << FAST_SCAN_BITS) * dim * 4,
        }
    }

    /// Bytes of `n` vectors' codes in `nlist` lists, at most: [`IvfCodes::code_bytes`] each, plus, for
    /// [`IvfCodes::PqFastScan`], up to one partly filled block of [`FAST_SCAN_BLOCK`] codes per list (FAISS
    /// pads an odd `m` to a whole byte per pair of codes, which `ceil(m / 2)` already counts).
    pub fn list_code_bytes(self, dim: usize, n: usize, nlist: usize) -> usize {
        let padding = match self {
            IvfCodes::PqFastScan { .. } => nlist.min(n) * FAST_SCAN_BLOCK * self.code_bytes(dim),
            _ => 0,
        };
        n * self.code_bytes(dim) + padding
    }
}

/// IVF build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IvfParams {
    /// Number of lists; `None` chooses from the collection size (see [`default_nlist`]).
    pub nlist: Option<usize>,
    /// Default `nprobe` when a query gives none.
    pub nprobe: usize,
    pub codes: IvfCodes,
    /// Quantised codes (PQ, SQ8, PQ fast-scan): re-rank by exact distance by default.
    pub rerank: bool,
    /// Train on at most this many vectors (a uniform sample); `None` trains on all.
    pub train_size: Option<usize>,
}

/// Lists visited per query when neither the query nor the build parameters say otherwise.
///
/// Measured (crates/index/FAISS.md): with [`default_nlist`] lists IVF-Flat reaches recall@10 0.915-0.948 at
/// nprobe 4, 0.980-1.000 at 8 and 0.998-1.000 at 16 on the clustered synthetic sets (d = 128, 512;
/// n = 20,000) and on Fashion-MNIST (n = 10,000); 16 keeps a margin for larger collections, whose nlist grows.
pub const DEFAULT_NPROBE: usize = 16;
/// Default bits per PQ sub-quantiser: 8 bits (256 centroids) is FAISS's fast, well-trained case.
pub const DEFAULT_PQ_BITS: usize = 8;
/// Upper bound of [`default_nlist`].
pub const MAX_NLIST: usize = 65_536;
/// FAISS's k-means wants at least this many training points per centroid (it warns below 39).
pub const MIN_POINTS_PER_LIST: usize = 39;

/// Default number of inverted lists for `n` vectors: about `4 * sqrt(n)`, at most [`MAX_NLIST`], and at
/// most `n / 39`, at least 1.
///
/// `4 * sqrt(n)` is FAISS's rule of thumb (between 4 and 16 sqrt(n)): it balances the cost of scanning the
/// centroids (nlist) against the cost of scanning the visited lists (nprobe * n / nlist). The `n / 39` bound
/// keeps at least 39 training points per centroid, the minimum below which FAISS's k-means warns that the
/// centroids are poorly trained; for small collections that wins (n = 20,000 gives 512, not 565).
pub fn default_nlist(n: usize) -> usize {
    let rule = (4.0 * (n as f64).sqrt()).round() as usize;
    rule.min(n / MIN_POINTS_PER_LIST).clamp(1, MAX_NLIST)
}

/// Default PQ sub-quantiser count for `dim`: `dim / 4` (4 dimensions per 8-bit code) when 4 divides `dim`,
/// otherwise the largest divisor of `dim` not above `dim / 4` (at least 1).
pub fn default_pq_m(dim: usize) -> usize {
    pq_m_at_most(dim, dim / 4)
}

/// The largest PQ sub-quantiser count not above `cap` that divides `dim` (PQ needs `dim % m == 0`); at
/// least 1.
pub fn pq_m_at_most(dim: usize, cap: usize) -> usize {
    (1..=cap.min(dim).max(1))
        .rev()
        .find(|m| dim.is_multiple_of(*m))
        .unwrap_or(1)
}

/// Default IVF-Flat parameters: nlist from the collection size, [`DEFAULT_NPROBE`], trained on all vectors.
pub fn default_flat_params() -> IvfParams {
    IvfParams {
        nlist: None,
        nprobe: DEFAULT_NPROBE,
        codes: IvfCodes::Flat,
        rerank: false,
        train_size: None,
    }
}

/// Default IVF-PQ parameters for `dim`: [`default_pq_m`] sub-quantisers of [`DEFAULT_PQ_BITS`] bits,
/// exact re-ranking on.
pub fn default_pq_params(dim: usize) -> IvfParams {
    IvfParams {
        nlist: None,
        nprobe: DEFAULT_NPROBE,
        codes: IvfCodes::Pq {
            m: default_pq_m(dim),
            bits: DEFAULT_PQ_BITS,
        },
        rerank: true,
        train_size: None,
    }
}

/// Default [`IvfCodes::PqFastScan`] sub-quantiser count for `dim`: `dim / 2` (2 dimensions per 4-bit code,
/// `dim / 4` bytes per vector, the code size of [`default_pq_m`]'s 8-bit PQ) when 2 divides `dim`, otherwise
/// the largest divisor of `dim` not above `dim / 2` (at least 1).
///
/// Equal code bytes make the two PQ kinds comparable at equal memory: fast-scan trades 16 centroids per
/// sub-quantiser (coarser codes, hence re-ranking) for SIMD table look-ups over blocks of 32 codes.
pub fn default_pq4fs_m(dim: usize) -> usize {
    pq_m_at_most(dim, dim / 2)
}

/// Default IVF-SQ8 parameters: nlist from the collection size, [`DEFAULT_NPROBE`], exact re-ranking on.
pub fn default_sq8_params() -> IvfParams {
    IvfParams {
        codes: IvfCodes::Sq8,
        rerank: true,
        ..default_flat_params()
    }
}

/// Default IVF-PQ fast-scan parameters for `dim`: [`default_pq4fs_m`] 4-bit sub-quantisers, exact
/// re-ranking on.
pub fn default_pq4fs_params(dim: usize) -> IvfParams {
    IvfParams {
        codes: IvfCodes::PqFastScan {
            m: default_pq4fs_m(dim),
        },
        rerank: true,
        ..default_flat_params()
    }
}

/// Which index to build, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum IndexConfig {
    Flat,
    Hnsw(HnswParams),
    Ivf(IvfParams),
}

impl IndexConfig {
    /// The kind this config builds.
    pub fn kind(&self) -> IndexKind {
        match self {
            IndexConfig::Flat => IndexKind::Flat,
            IndexConfig::Hnsw(_) => IndexKind::Hnsw,
            IndexConfig::Ivf(_) => IndexKind::Ivf,
        }
    }

    /// About how many bytes a saved index of this config takes on disk holding `vectors` vectors of
    /// `dim` values: what a writer checks free space against before it starts. An upper estimate,
    /// checked against saved indexes of every kind (within 1.5x of the bytes written, never below).
    pub fn estimated_disk_bytes(&self, vectors: usize, dim: usize) -> u64 {
        let (n, d) = (vectors as u64, dim as u64);
        // Every kind: its manifest and the external ids (8 bytes each).
        let common = 4096 + 8 * n;
        common
            + match self {
                IndexConfig::Flat => 4 * n * d,
                IndexConfig::Hnsw(p) => {
                    // hnsw_rs's data file (each vector behind a small header) and graph file (each node's
                    // neighbours with their layer and rank: up to 2M on layer 0, M on each of the few
                    // layers above), plus the tombstones and compact links vsearch keeps beside them.
                    let m = p.m as u64;
                    // A quantized index also saves its codes (with the quantizer) and the vectors in
                    // slot order, which it maps for the re-scoring.
                    let quantized = p
                        .quantization
                        .map_or(0, |q| n * (q.code_bytes(dim) as u64 + 4 * d) + 4 * (d + 1));
                    n * (4 * d + 32) + n * (64 + 2 * m * 14) + quantized
                }
                IndexConfig::Ivf(p) => {
                    let nlist = p.nlist.unwrap_or_else(|| default_nlist(vectors));
                    // Centroids, the trained quantiser, then each vector's code (with fast-scan's block
                    // padding) and id in its list.
                    let codes = p.codes.list_code_bytes(dim, vectors, nlist) as u64;
                    let codebooks = p.codes.codebook_bytes(dim) as u64;
                    let nlist = nlist as u64;
                    // Quantised codes keep the full vectors beside them, to re-rank (saved whether or not
                    // re-ranking is on by default, as a query may ask for it).
                    let raw = if p.codes.keeps_raw() { 4 * n * d } else { 0 };
                    4 * nlist * d + codebooks + codes + 8 * n + 64 * nlist + raw
                }
            }
    }

    /// The measured default config of `kind` (see [`DEFAULT_M`] and [`default_flat_params`]).
    pub fn default_for(kind: IndexKind) -> IndexConfig {
        match kind {
            IndexKind::Flat => IndexConfig::Flat,
            IndexKind::Hnsw => IndexConfig::Hnsw(HnswParams::default()),
            IndexKind::Ivf => IndexConfig::Ivf(default_flat_params()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nlist_rule() {
        assert_eq!(default_nlist(0), 1);
        assert_eq!(default_nlist(100), 2);
        assert_eq!(default_nlist(10_000), 256);
        assert_eq!(default_nlist(20_000), 512);
        assert_eq!(default_nlist(1_000_000), 4000);
        assert_eq!(default_nlist(u32::MAX as usize * 1000), MAX_NLIST);
    }

    #[test]
    fn pq_m_divides() {
        for dim in [1, 3, 7, 128, 512, 784, 1280, 1000] {
            let m = default_pq_m(dim);
            assert_eq!(dim % m, 0, "dim {dim} m {m}");
        }
        assert_eq!(default_pq_m(128), 32);
        assert_eq!(default_pq_m(784), 196);
    }

    #[test]
    fn pq4fs_m_divides_and_matches_pq_code_bytes() {
        for dim in [1, 3, 7, 128, 512, 784, 1280, 1000] {
            let m = default_pq4fs_m(dim);
            assert_eq!(dim % m, 0, "dim {dim} m {m}");
        }
        assert_eq!(default_pq4fs_m(784), 392);
        for dim in [128, 512, 784] {
            assert_eq!(
                IvfCodes::PqFastScan {
                    m: default_pq4fs_m(dim)
                }
                .code_bytes(dim),
                IvfCodes::Pq {
                    m: default_pq_m(dim),
                    bits: DEFAULT_PQ_BITS
                }
                .code_bytes(dim)
            );
        }
        assert_eq!(IvfCodes::Sq8.code_bytes(784), 784);
        assert_eq!(IvfCodes::PqFastScan { m: 3 }.code_bytes(6), 2);
    }

    #[test]
    fn codes_serialise_with_their_tags_and_old_manifests_load() {
        let json = |c: IvfCodes| serde_json::to_string(&c).unwrap();
        assert_eq!(json(IvfCodes::Sq8), r#"{"type":"sq8"}"#);
        assert_eq!(
            json(IvfCodes::PqFastScan { m: 64 }),
            r#"{"type":"pq4fs","m":64}"#
        );
        for c in [
            IvfCodes::Flat,
            IvfCodes::Pq { m: 8, bits: 8 },
            IvfCodes::Sq8,
            IvfCodes::PqFastScan { m: 64 },
        ] {
            assert_eq!(serde_json::from_str::<IvfCodes>(&json(c)).unwrap(), c);
        }
        let old: IvfCodes = serde_json::from_str(r#"{"type":"pq","m":16,"bits":8}"#).unwrap();
        assert_eq!(old, IvfCodes::Pq { m: 16, bits: 8 });
        let old: IvfCodes = serde_json::from_str(r#"{"type":"flat"}"#).unwrap();
        assert_eq!(old, IvfCodes::Flat);
    }
}
