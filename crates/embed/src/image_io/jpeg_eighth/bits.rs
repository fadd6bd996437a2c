//! The entropy-coded data as a stream of bits.

/// The entropy-coded stream, read MSB first with its stuffed zero bytes removed, stopping at a marker.
#[derive(Clone, Copy)]
pub(super) struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// The next bits, left-aligned. The bits below the `count` valid ones are zero or the stream's
    /// next bits (a refill reads whole words and counts their whole bytes only).
    pub(super) buf: u64,
    pub(super) count: u32,
    /// Zero bits appended after a marker or the end of the data (what libjpeg does too, with a warning):
    /// a stream that consumes them is damaged.
    padding: u32,
    at_marker: bool,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            buf: 0,
            count: 0,
            padding: 0,
            at_marker: false,
        }
    }

    /// Makes at least 32 bits available (57 after a refill).
    #[inline(always)]
    pub(super) fn ensure(&mut self) {
        if self.count < 32 {
            self.refill();
        }
    }

    /// Tops the bits up from the next word where it can (see [`Bits::refill_word`]), byte by byte only
    /// where fewer than 32 are left: at least 32 after it.
    #[inline(always)]
    pub(super) fn refill_to_32(&mut self) {
        if !self.refill_word() && self.count < 32 {
            *self = self.refill_bytewise();
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        if !self.refill_word() {
            *self = self.refill_bytewise();
        }
    }

    /// Tops the bits up to 56 or more from the next eight bytes, if none of them is 0xFF (no stuffing
    /// and no marker: they are all data), without a branch on how many bits are wanted; false where
    /// it cannot.
    #[inline(always)]
    fn refill_word(&mut self) -> bool {
        if self.at_marker {
            return false;
        }
        let Some(chunk) = self.data.get(self.pos..self.pos + 8) else {
            return false;
        };
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_be_bytes(word);
        let inverted = !word;
        if inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080 != 0 {
            return false;
        }
        // The bits past the whole bytes counted are the stream's own next bits: harmless below `count`.
        self.buf |= word >> self.count;
        self.pos += ((63 - self.count) >> 3) as usize;
        self.count |= 56;
        true
    }

    #[cold]
    #[inline(never)]
    fn refill_bytewise(mut self) -> Self {
        while self.count <= 56 {
            let mut byte = 0u8;
            if !self.at_marker {
                match self.data.get(self.pos) {
                    Some(&0xFF) if self.data.get(self.pos + 1) == Some(&0) => {
                        byte = 0xFF;
                        self.pos += 2;
                    }
                    Some(&0xFF) | None => self.at_marker = true,
                    Some(&b) => {
                        byte = b;
                        self.pos += 1;
                    }
                }
            }
            if self.at_marker {
                self.padding += 8;
            }
            // Zero bits, or the stream's own bits, may lie below `count` already (see `buf`): clear them.
            self.buf &= !(u64::MAX >> self.count);
            self.buf |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
        self
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

    /// Whether every bit consumed so far was data (none of the zeros appended past a marker or the end).
    fn intact(&self) -> bool {
        self.count >= self.padding
    }

    /// At the end of a restart interval or of the scan: drops the unused bits of the last byte and reads
    /// `marker` (after any fill bytes); false if anything else is there, as libjpeg warns then.
    #[inline(always)]
    pub(super) fn read_marker(&mut self, marker: u8) -> bool {
        if !self.intact() || self.count - self.padding >= 8 {
            return false;
        }
        self.buf = 0;
        self.count = 0;
        self.padding = 0;
        self.at_marker = false;
        while self.data.get(self.pos) == Some(&0xFF) && self.data.get(self.pos + 1) == Some(&0xFF) {
            self.pos += 1;
        }
        if self.data.get(self.pos) != Some(&0xFF) || self.data.get(self.pos + 1) != Some(&marker) {
            return false;
        }
        self.pos += 2;
        true
    }
}
