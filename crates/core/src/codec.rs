//! Little-endian encodings of number slices: the byte layout of every vector and id file vsearch writes.

/// Bytes whose length is not a multiple of the element size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthError {
    /// Length of the byte slice given.
    pub len: usize,
    /// Size of one element in bytes.
    pub element_size: usize,
}

impl std::fmt::Display for LengthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bytes is not a whole number of {}-byte values",
            self.len, self.element_size
        )
    }
}

impl std::error::Error for LengthError {}

/// A number with a fixed-size little-endian encoding.
pub trait LeBytes: Copy {
    /// Size of one value in bytes.
    const SIZE: usize;
    /// Appends the little-endian bytes of `self` to `out`.
    fn put(self, out: &mut Vec<u8>);
    /// Reads a value from exactly [`Self::SIZE`] bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! le_bytes {
    ($($t:ty),*) => {$(
        impl LeBytes for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(bytes);
                <$t>::from_le_bytes(a)
            }
        }
    )*};
}
le_bytes!(f32, u64, i32, u32);

/// The little-endian bytes of `values`.
pub fn to_le_bytes<T: LeBytes>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * T::SIZE);
    extend_le_bytes(&mut out, values);
    out
}

/// Appends the little-endian bytes of `values` to `out`.
pub fn extend_le_bytes<T: LeBytes>(out: &mut Vec<u8>, values: &[T]) {
    values.iter().for_each(|v| v.put(out));
}

/// Decodes little-endian values; fails when `bytes` is not a whole number of them.
pub fn from_le_bytes<T: LeBytes>(bytes: &[u8]) -> Result<Vec<T>, LengthError> {
    if !bytes.len().is_multiple_of(T::SIZE) {
        return Err(LengthError {
            len: bytes.len(),
            element_size: T::SIZE,
        });
    }
    Ok(bytes.chunks_exact(T::SIZE).map(T::get).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_partial_values() {
        let v = [1.5f32, -0.0, f32::MAX];
        assert_eq!(from_le_bytes::<f32>(&to_le_bytes(&v)).unwrap(), v);
        let ids = [0u64, 7, u64::MAX];
        assert_eq!(from_le_bytes::<u64>(&to_le_bytes(&ids)).unwrap(), ids);
        assert_eq!(to_le_bytes(&[1u32]), [1, 0, 0, 0]);
        let err = from_le_bytes::<u64>(&[0; 12]).unwrap_err();
        assert_eq!((err.len, err.element_size), (12, 8));
    }
}
