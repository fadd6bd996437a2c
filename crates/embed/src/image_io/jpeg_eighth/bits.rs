//! The entropy-coded data as a stream of bits: a segment of it (a restart interval, or the whole scan)
//! copied first with its stuffed zero bytes taken out, so that a refill reads a whole word wherever it
//! is, with no test for a 0xFF byte.

/// Zero bytes after a segment's data, so that a refill reads eight bytes anywhere up to the data's end.
const PADDING: usize = 8;

/// Copies the entropy-coded data at `raw[at..]` into `segment`, its stuffed zero bytes (0xFF 0x00 for a
/// 0xFF) taken out, up to the next marker (or the end of the data), then [`PADDING`] zero bytes; returns
/// where the marker is (or the data's length).
pub(super) fn unstuff(raw: &[u8], mut at: usize, segment: &mut Vec<u8>) -> usize {
    segment.clear();
    // At most the rest of the data: one allocation, not a doubling one.
    segment.reserve(raw.len().saturating_sub(at) + PADDING);
    loop {
        let rest = raw.get(at..).unwrap_or_default();
        let Some(ff) = memchr::memchr(0xFF, rest) else {
            segment.extend_from_slice(rest);
            at = raw.len();
            break;
        };
        segment.extend_from_slice(&rest[..ff]);
        at += ff;
        if raw.get(at + 1) != Some(&0) {
            break;
        }
        segment.push(0xFF);
        at += 2;
    }
    segment.resize(segment.len() + PADDING, 0);
    at
}

/// After a segment: the marker at `raw[at..]` (after any fill bytes) if it is `marker`, and where the data
/// after it starts; `None` if anything else is there, as libjpeg warns then.
pub(super) fn marker_at(raw: &[u8], mut at: usize, marker: u8) -> Option<usize> {
    while raw.get(at) == Some(&0xFF) && raw.get(at + 1) == Some(&0xFF) {
        at += 1;
    }
    (raw.get(at) == Some(&0xFF) && raw.get(at + 1) == Some(&marker)).then_some(at + 2)
}

/// A segment of the entropy-coded stream (see [`unstuff`]), read MSB first. Past the segment's data it
/// reads zero bits (what libjpeg does after a marker too, with a warning): a stream that consumes them is
/// damaged.
#[derive(Clone, Copy)]
pub(super) struct Bits<'a> {
    /// The segment's data and its [`PADDING`].
    data: &'a [u8],
    /// The bytes read into `buf` so far.
    pos: usize,
    /// The next bits, left-aligned. The bits below the `count` valid ones are zero or the stream's
    /// next bits (a refill reads whole words and counts their whole bytes only).
    pub(super) buf: u64,
    pub(super) count: u32,
}

impl<'a> Bits<'a> {
    /// The stream of a segment [`unstuff`] made.
    pub(super) fn new(segment: &'a [u8]) -> Self {
        Bits {
            data: segment,
            pos: 0,
            buf: 0,
            count: 0,
        }
    }

    /// A stream of the bits of `word` alone (to decode a table's prefix).
    pub(super) fn of_word(word: u64) -> Bits<'static> {
        Bits {
            data: &[],
            pos: 0,
            buf: word,
            count: 64,
        }
    }

    /// Makes at least 32 bits available (56 after a refill).
    #[inline(always)]
    pub(super) fn ensure(&mut self) {
        if self.count < 32 {
            self.refill();
        }
    }

    /// Tops the bits up to 56 or more from the next eight bytes, without a branch on how many bits are
    /// wanted.
    #[inline(always)]
    pub(super) fn refill(&mut self) {
        let word = match self.data.get(self.pos..self.pos + 8) {
            Some(chunk) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                u64::from_be_bytes(word)
            }
            // Past the padding: zero bits, as the padding is.
            None => 0,
        };
        // The bits past the whole bytes counted are the stream's own next bits: harmless below `count`.
        self.buf |= word >> self.count;
        self.pos += ((63 - self.count) >> 3) as usize;
        self.count |= 56;
    }

    /// The next `n` bits (1 to 16) as a number.
    #[inline(always)]
    pub(super) fn peek(&self, n: u32) -> usize {
        (self.buf >> (64 - n)) as usize
    }

    /// Drops `n` bits (at most the `count` available).
    #[inline(always)]
    pub(super) fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.count -= n;
    }

    /// A coefficient of `size` magnitude bits (0 to 15), sign-extended as JPEG codes it.
    #[inline(always)]
    pub(super) fn receive_extend(&mut self, size: u32) -> i32 {
        if size == 0 {
            return 0;
        }
        let value = self.peek(size) as i32;
        self.consume(size);
        if value < 1 << (size - 1) {
            value - (1 << size) + 1
        } else {
            value
        }
    }

    /// Whether the segment's data ends here, as it must before a marker: every bit consumed so far was
    /// data (none of the zeros after it), and fewer than eight are left (the last byte's unused bits).
    pub(super) fn at_end(&self) -> bool {
        let data = 8 * self.data.len().saturating_sub(PADDING);
        let consumed = 8 * self.pos - self.count as usize;
        consumed <= data && data - consumed < 8
    }
}
