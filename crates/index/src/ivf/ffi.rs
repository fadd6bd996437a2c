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

/// `index` as FAISS's `IndexIVF`, or null when it is not one.
fn as_ivf(index: &faiss::index::IndexImpl) -> *mut faiss_sys::FaissIndexIVF {
    // SAFETY: a checked dynamic cast of a live index; it reads and changes nothing.
    unsafe { faiss_sys::faiss_IndexIVF_cast(index.inner_ptr()) }
}

/// Makes `index` (an IVF index) take all its lists' probes when searched without parameters, which is
/// also the length of each query's row of lists that [`search_preassigned`] hands it: any nprobe then
/// fits the row (a row's unused end is -1, which FAISS skips). Every other search passes its own
/// nprobe. Nothing when `index` is not an IVF index.
pub(super) fn probe_every_list_unless_told(index: &mut faiss::index::IndexImpl) {
    let ivf = as_ivf(index);
    if !ivf.is_null() {
        // SAFETY: `ivf` is the live IVF index that the `&mut` borrow gives this call alone.
        unsafe { faiss_sys::faiss_IndexIVF_set_nprobe(ivf, faiss_sys::faiss_IndexIVF_nlist(ivf)) };
    }
}

/// The centroids of `index`'s coarse quantiser (`nlist * d` values, FAISS's own, read in place), when
/// `index` is an IVF index over a flat quantiser.
pub(super) fn coarse_centroids(index: &faiss::index::IndexImpl) -> Option<&[f32]> {
    let ivf = as_ivf(index);
    if ivf.is_null() {
        return None;
    }
    // SAFETY: `ivf` is live for the borrow of `index`; the quantiser is owned by it, and the cast checks
    // that it is a flat index, whose vectors FAISS keeps in one array of `size` floats. Nothing changes
    // them while `index` is borrowed (changes take `&mut`).
    unsafe {
        let flat = faiss_sys::faiss_IndexFlat_cast(faiss_sys::faiss_IndexIVF_quantizer(ivf));
        if flat.is_null() {
            return None;
        }
        let (mut xb, mut size) = (std::ptr::null_mut(), 0usize);
        faiss_sys::faiss_IndexFlat_xb(flat, &mut xb, &mut size);
        (!xb.is_null()).then(|| std::slice::from_raw_parts(xb.cast_const(), size))
    }
}

/// How many lists a row of [`search_preassigned`]'s `lists` holds for `index`: the probes it takes
/// unless told ([`probe_every_list_unless_told`]); 0 when `index` is not an IVF index.
pub(super) fn preassigned_row(index: &faiss::index::IndexImpl) -> usize {
    let ivf = as_ivf(index);
    if ivf.is_null() {
        return 0;
    }
    // SAFETY: reads a field of the live IVF index.
    unsafe { faiss_sys::faiss_IndexIVF_nprobe(ivf) }
}

/// FAISS's search of one query `x` in the lists given (`lists`, [`preassigned_row`] long, -1 past the
/// lists to visit; `coarse` their coarse distances), `fetch` results: (distances, labels), labels -1
/// when short.
pub(super) fn search_preassigned(
    index: &faiss::index::IndexImpl,
    x: &[f32],
    fetch: usize,
    lists: &[i64],
    coarse: &[f32],
) -> Result<(Vec<f32>, Vec<i64>)> {
    let ivf = as_ivf(index);
    if ivf.is_null() || lists.len() != preassigned_row(index) || coarse.len() != lists.len() {
        return Err(IndexError::Faiss {
            reason: "a preassigned search needs an IVF index and one row of lists".into(),
        });
    }
    let mut distances = vec![0f32; fetch];
    let mut labels = vec![-1i64; fetch];
    // SAFETY: `ivf` is live for the borrow of `index` and FAISS's `search_preassigned` is `const`, safe
    // beside other searches; `x` is one vector of the index's dimension (checked by the caller), `lists`
    // and `coarse` hold the row FAISS reads (its nprobe entries, checked above), and the outputs `fetch`.
    faiss_check(unsafe {
        faiss_sys::faiss_IndexIVF_search_preassigned(
            ivf,
            1,
            x.as_ptr(),
            fetch as i64,
            lists.as_ptr(),
            coarse.as_ptr(),
            distances.as_mut_ptr(),
            labels.as_mut_ptr(),
            0,
        )
    })?;
    Ok((distances, labels))
}
