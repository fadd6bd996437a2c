//! Reader for PyTorch's legacy (pre-1.6, non-zip) `torch.save` format.
//!
//! Layout: a pickle of the magic number, a pickle of the protocol version, a pickle of system info, the
//! pickled object (tensors refer to storages by persistent id), a pickle of the storage keys, then for each
//! key in that order an `i64` element count and the raw little-endian data. candle reads the pickles; this
//! module walks the framing around them and assembles the tensors.

use crate::error::{EmbedError, Result};
use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Protocol-2 pickle of the legacy magic number 0x1950a86a20f9469cfc6c.
const MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

fn bad(path: &Path, reason: impl Into<String>) -> EmbedError {
    EmbedError::Weights {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_pickle<R: BufRead>(r: &mut R, path: &Path, what: &str) -> Result<Object> {
    let mut stack = Stack::empty();
    stack
        .read_loop(r)
        .and_then(|_| stack.finalize())
        .map_err(|e| bad(path, format!("cannot read the {what} pickle: {e}")))
}

/// Reads every tensor of a legacy `.pth` state dict (names as saved) onto the CPU.
pub fn read_state_dict(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let file = std::fs::File::open(path).map_err(|source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut r = BufReader::new(file);
    let mut magic = [0u8; MAGIC_PICKLE.len()];
    r.read_exact(&mut magic)
        .map_err(|_| bad(path, "file too short"))?;
    if magic != MAGIC_PICKLE {
        return Err(bad(
            path,
            "not a legacy torch.save file (zip-format checkpoints need another reader)",
        ));
    }
    read_pickle(&mut r, path, "protocol version")?;
    read_pickle(&mut r, path, "system info")?;
    let state = read_pickle(&mut r, path, "state dict")?;
    let Object::Dict(entries) = state else {
        return Err(bad(path, "the saved object is not a state dict"));
    };
    let mut infos = Vec::new();
    for (name, value) in entries {
        match value.into_tensor_info(name, Path::new("")) {
            Ok(Some(info)) => infos.push(info),
            Ok(None) => {}
            Err(e) => return Err(bad(path, format!("bad tensor entry: {e}"))),
        }
    }
    // Each storage's element type, from the tensors that use it.
    let storage_dtype: HashMap<String, DType> = infos
        .iter()
        .map(|i| (i.path.trim_start_matches('/').to_string(), i.dtype))
        .collect();

    let keys = match read_pickle(&mut r, path, "storage keys")? {
        Object::List(keys) | Object::Tuple(keys) => keys,
        other => return Err(bad(path, format!("storage keys are not a list: {other:?}"))),
    };
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for key in keys {
        let key = key
            .unicode()
            .map_err(|o| bad(path, format!("storage key is not a string: {o:?}")))?;
        let mut count = [0u8; 8];
        r.read_exact(&mut count)
            .map_err(|_| bad(path, "truncated storage header"))?;
        let count = u64::from_le_bytes(count) as usize;
        let dtype = *storage_dtype
            .get(&key)
            .ok_or_else(|| bad(path, format!("storage {key} is used by no tensor")))?;
        let mut bytes = vec![0u8; count * dtype.size_in_bytes()];
        r.read_exact(&mut bytes)
            .map_err(|_| bad(path, format!("truncated data of storage {key}")))?;
        storages.insert(key, bytes);
    }

    infos
        .into_iter()
        .map(|info| {
            let key = info.path.trim_start_matches('/');
            let bytes = storages
                .get(key)
                .ok_or_else(|| bad(path, format!("missing storage {key}")))?;
            let layout = &info.layout;
            let elem = info.dtype.size_in_bytes();
            let count = layout.shape().elem_count();
            // candle's pickle reader gives the start offset in bytes; strides are in elements.
            let start = layout.start_offset();
            let raw: std::borrow::Cow<[u8]> = if layout.is_contiguous() {
                let slice = bytes.get(start..start + count * elem).ok_or_else(|| {
                    bad(path, format!("tensor {} runs past its storage", info.name))
                })?;
                std::borrow::Cow::Borrowed(slice)
            } else {
                // A strided view (e.g. a transposed weight): gather its elements in logical order.
                let mut out = Vec::with_capacity(count * elem);
                for index in strided_offsets(layout.dims(), layout.stride()) {
                    let at = start + index * elem;
                    let slice = bytes.get(at..at + elem).ok_or_else(|| {
                        bad(path, format!("tensor {} runs past its storage", info.name))
                    })?;
                    out.extend_from_slice(slice);
                }
                std::borrow::Cow::Owned(out)
            };
            let tensor = Tensor::from_raw_buffer(&raw, info.dtype, layout.dims(), &Device::Cpu)?;
            Ok((info.name, tensor))
        })
        .collect()
}

/// Offsets (in elements, from the view's start) of a strided view's elements, in row-major logical order.
fn strided_offsets(dims: &[usize], strides: &[usize]) -> Vec<usize> {
    let mut offsets = vec![0];
    for (&dim, &stride) in dims.iter().zip(strides) {
        offsets = offsets
            .iter()
            .flat_map(|&base| (0..dim).map(move |i| base + i * stride))
            .collect();
    }
    offsets
}
