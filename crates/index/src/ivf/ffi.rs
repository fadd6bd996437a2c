//! FAISS where the `faiss` crate does not reach: per-search parameters through the C API (nprobe and an
//! id selector over a filter's bitmap), status codes and errors, the metric and id types.

use crate::error::{IndexError, Result};
use crate::vector_index::Metric;
use faiss::{Idx, MetricType};

/// FAISS search parameters for one search (nprobe, and an `IDSelectorBitmap` over a filter's bitmap when
/// filtered); both FAISS objects are freed on drop. FAISS's selector keeps a pointer to the bitmap, hence
/// the borrow.
pub(super) struct IvfSearchParams<'a> {
    params: *mut faiss_sys::FaissSearchParametersIVF,
    selector: *mut faiss_sys::FaissIDSelectorBitmap,
    _bitmap: std::marker::PhantomData<&'a [u8]>,
}

impl<'a> IvfSearchParams<'a> {
    /// Parameters visiting `nprobe` lists, returning only ids set in `bitmap` when one is given.
    pub(super) fn new(nprobe: usize, bitmap: Option<&'a [u8]>) -> Result<Self> {
        let mut this = IvfSearchParams {
            params: std::ptr::null_mut(),
            selector: std::ptr::null_mut(),
            _bitmap: std::marker::PhantomData,
        };
        if let Some(bitmap) = bitmap {
            // SAFETY: FAISS reads `bitmap.len()` bytes from the pointer, which the borrow keeps alive for
            // as long as `this`; the selector is freed in `drop`, after the parameters that point to it.
            faiss_check(unsafe {
                faiss_sys::faiss_IDSelectorBitmap_new(
                    &mut this.selector,
                    bitmap.len(),
                    bitmap.as_ptr(),
                )
            })?;
        }
        // SAFETY: the selector is null or a live selector owned by `this`; FAISS's search parameters do
        // not take ownership of it (they never free it), `drop` does. `max_codes` 0 means no limit.
        faiss_check(unsafe {
            faiss_sys::faiss_SearchParametersIVF_new_with(
                &mut this.params,
                this.selector.cast(),
                nprobe,
                0,
            )
        })?;
        Ok(this)
    }

    /// The parameters, as FAISS's search takes them.
    pub(super) fn as_ptr(&self) -> *const faiss_sys::FaissSearchParameters {
        self.params.cast_const()
    }
}

impl Drop for IvfSearchParams<'_> {
    fn drop(&mut self) {
        // SAFETY: both pointers are null or were created by FAISS for this value alone, and are freed
        // only here, once: the parameters first, then the selector they point to.
        unsafe {
            if !self.params.is_null() {
                faiss_sys::faiss_SearchParametersIVF_free(self.params);
            }
            if !self.selector.is_null() {
                faiss_sys::faiss_IDSelectorBitmap_free(self.selector);
            }
        }
    }
}

/// FAISS's C API status `code` as a result, with FAISS's last error message.
pub(super) fn faiss_check(code: std::os::raw::c_int) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: FAISS's C API keeps the last error message per thread, NUL-terminated.
    let reason = unsafe {
        let p = faiss_sys::faiss_get_last_error();
        if p.is_null() {
            format!("call failed with code {code}")
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    Err(IndexError::Faiss { reason })
}

pub(super) fn faiss_err(e: impl std::fmt::Display) -> IndexError {
    IndexError::Faiss {
        reason: e.to_string(),
    }
}

pub(super) fn faiss_metric(metric: Metric) -> MetricType {
    match metric {
        Metric::Cosine => MetricType::InnerProduct,
        Metric::L2 => MetricType::L2,
    }
}

pub(super) fn to_idx(ids: &[u64]) -> Vec<Idx> {
    // Ids were checked to be below 2^63 when added.
    ids.iter().map(|&id| Idx::from(id as i64)).collect()
}
