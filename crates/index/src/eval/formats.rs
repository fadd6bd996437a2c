//! Dataset files: IDX unsigned-byte images (Fashion-MNIST) and TEXMEX `.fvecs` / `.ivecs`, plain or gzipped.

use crate::error::{IndexError, Result};
use std::io::Read;
use std::path::Path;

/// Where Debian's `dataset-fashion-mnist` package installs the Fashion-MNIST IDX files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// The 60,000 training images: the base vectors.
pub const FASHION_MNIST_TRAIN: &str = "train-images-idx3-ubyte.gz";
/// The 10,000 test images: the queries.
pub const FASHION_MNIST_TEST: &str = "t10k-images-idx3-ubyte.gz";

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_error(path: &Path, reason: impl Into<String>) -> IndexError {
    IndexError::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads a whole file, gunzipping it when it starts with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(io_error(path))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(io_error(path))?;
    Ok(out)
}

/// How image bytes become vector components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelScale {
    /// The byte value, 0 to 255 (ann-benchmarks' fashion-mnist-784-euclidean; `vsearch bench`).
    Bytes,
    /// The byte value divided by 255, in `[0, 1]` (the index tests and examples).
    Unit,
}

/// The images of an IDX file of unsigned bytes (magic `0x00000803`), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Pixels per image (`rows * cols`).
    pub dim: usize,
    /// `len() * dim` bytes.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.pixels.len().checked_div(self.dim).unwrap_or(0)
    }

    /// True when the file holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `limit` images (all when fewer) as `f32` rows, scaled by `scale`.
    pub fn vectors(&self, scale: PixelScale, limit: usize) -> Vec<f32> {
        let pixels = &self.pixels[..self.len().min(limit) * self.dim];
        match scale {
            PixelScale::Bytes => pixels.iter().map(|&b| b as f32).collect(),
            PixelScale::Unit => pixels.iter().map(|&b| b as f32 / 255.0).collect(),
        }
    }
}

/// Reads an IDX file of unsigned-byte images (plain or `.gz`, e.g. Fashion-MNIST's
/// `train-images-idx3-ubyte.gz`).
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < 16 {
        return Err(format_error(path, "too short for an IDX header"));
    }
    if bytes[..4] != [0, 0, 8, 3] {
        return Err(format_error(
            path,
            "not an IDX file of unsigned-byte images (magic 0x00000803)",
        ));
    }
    let be = |o: usize| {
        u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
    };
    let (n, rows, cols) = (be(4), be(8), be(12));
    let dim = rows * cols;
    let need = n.checked_mul(dim).and_then(|v| v.checked_add(16));
    if dim == 0 || need != Some(bytes.len()) {
        return Err(format_error(
            path,
            format!(
                "IDX header says {n} x {rows} x {cols} but the file has {} bytes",
                bytes.len()
            ),
        ));
    }
    let mut pixels = bytes;
    pixels.drain(..16);
    Ok(IdxImages { dim, pixels })
}

/// Fashion-MNIST: training images (the base) and test images (the queries), 28 x 28 = 784 pixels each.
#[derive(Debug, Clone, PartialEq)]
pub struct FashionMnist {
    /// [`FASHION_MNIST_TRAIN`]: 60,000 images.
    pub train: IdxImages,
    /// [`FASHION_MNIST_TEST`]: 10,000 images.
    pub test: IdxImages,
}

impl FashionMnist {
    /// Reads [`FASHION_MNIST_TRAIN`] and [`FASHION_MNIST_TEST`] from `dir` (e.g. [`FASHION_MNIST_DIR`]).
    pub fn read(dir: &Path) -> Result<Self> {
        let train = read_idx_images(&dir.join(FASHION_MNIST_TRAIN))?;
        let test_path = dir.join(FASHION_MNIST_TEST);
        let test = read_idx_images(&test_path)?;
        if test.dim != train.dim {
            return Err(format_error(
                &test_path,
                format!(
                    "images of {} pixels, the training set's have {}",
                    test.dim, train.dim
                ),
            ));
        }
        Ok(Self { train, test })
    }
}

/// The records of a `.fvecs` / `.ivecs` file: `len() * dim` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows<T> {
    /// Values per record.
    pub dim: usize,
    /// All records' values.
    pub values: Vec<T>,
}

impl<T> Rows<T> {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.dim).unwrap_or(0)
    }

    /// True when there is no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Rows<i32> {
    /// Each record as a row of neighbour ids (ground truth): `i32` sign-extended, so -1 becomes `u64::MAX`.
    pub fn id_rows(&self) -> Vec<Vec<u64>> {
        self.values
            .chunks(self.dim.max(1))
            .map(|r| r.iter().map(|&v| v as u64).collect())
            .collect()
    }
}

/// Reads `.fvecs` / `.ivecs` records: each is a little-endian `i32` dimension, the same for all, then `dim`
/// 4-byte little-endian values.
fn read_vecs(path: &Path) -> Result<Rows<[u8; 4]>> {
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < 4 {
        return Err(format_error(path, "empty or too short for a vecs record"));
    }
    let dim = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if dim <= 0 {
        return Err(format_error(
            path,
            format!("invalid dimension {dim} in the first record"),
        ));
    }
    let dim = dim as usize;
    let record = 4 * (dim + 1);
    if !bytes.len().is_multiple_of(record) {
        return Err(format_error(
            path,
            format!(
                "length {} is not a multiple of the record size {record}",
                bytes.len()
            ),
        ));
    }
    let mut values = Vec::with_capacity(bytes.len() / record * dim);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        if rec[..4] != bytes[..4] {
            return Err(format_error(
                path,
                format!("record {i} has a different dimension"),
            ));
        }
        values.extend(rec[4..].chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]));
    }
    Ok(Rows { dim, values })
}

/// Reads an `.fvecs` file (plain or gzipped).
pub fn read_fvecs(path: &Path) -> Result<Rows<f32>> {
    let raw = read_vecs(path)?;
    Ok(Rows {
        dim: raw.dim,
        values: raw.values.into_iter().map(f32::from_le_bytes).collect(),
    })
}

/// Reads an `.ivecs` file (plain or gzipped), e.g. ground-truth neighbour ids.
pub fn read_ivecs(path: &Path) -> Result<Rows<i32>> {
    let raw = read_vecs(path)?;
    Ok(Rows {
        dim: raw.dim,
        values: raw.values.into_iter().map(i32::from_le_bytes).collect(),
    })
}

/// Rows of `dim` values (`values.len()` a multiple of `dim`) as `.fvecs` bytes.
pub fn encode_fvecs(dim: usize, values: &[f32]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(values.len() * 4 + values.len() / dim.max(1) * 4);
    for row in values.chunks_exact(dim.max(1)) {
        buf.extend_from_slice(&(dim as i32).to_le_bytes());
        for v in row {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
    buf
}

/// Rows of ids as `.ivecs` bytes, each id written as an `i32` (`u64::MAX`, "no id", becomes -1).
pub fn encode_ivecs(rows: &[Vec<u64>]) -> Vec<u8> {
    let mut buf = Vec::new();
    for row in rows {
        buf.extend_from_slice(&(row.len() as i32).to_le_bytes());
        for v in row {
            buf.extend_from_slice(&(*v as i32).to_le_bytes());
        }
    }
    buf
}
