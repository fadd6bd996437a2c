//! Huffman tables: the lookup of a code, and the skip table that passes over several AC coefficients
//! at once.

use super::bits::Bits;

/// Bits of the stream a Huffman lookup resolves at once; longer codes take the canonical search.
pub(super) const LOOKAHEAD: u32 = 11;

/// The largest magnitude (in bits) a skip-table step passes over: an 8-bit JPEG's AC coefficients have
/// at most 10 (JPEG Annex F); a table with larger ones leaves them to the slow path, so that a step
/// takes at most `LOOKAHEAD + MAX_SKIP_SIZE` bits.
pub(super) const MAX_SKIP_SIZE: u32 = 10;

/// A Huffman table as decoding needs it.
pub(super) struct Huffman {
    /// For each [`LOOKAHEAD`]-bit prefix of the stream: the code's length << 8 | its symbol, or 0 where
    /// the code is longer (or no code starts so).
    fast: Box<[u16; 1 << LOOKAHEAD]>,
    /// For AC tables, what skipping the coefficients whose codes the prefix holds takes (a [`Skip`]),
    /// 0 where the first code is longer.
    pub(super) skip: Box<[Skip; 1 << LOOKAHEAD]>,
    /// For DC tables, the difference the prefix holds whole (code and magnitude), 0 where it does not.
    pub(super) differences: Box<[Difference; 1 << LOOKAHEAD]>,
    /// The largest code of each length (-1: none).
    max_code: [i32; 18],
    /// For each length, the index in `symbols` of its first code, less that code.
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Huffman {
    /// Builds the canonical code of a DHT table (JPEG Annex C), or `None` for a table libjpeg refuses.
    pub(super) fn new(counts: &[u8; 16], symbols: &[u8], is_dc: bool) -> Option<Huffman> {
        if is_dc && symbols.iter().any(|&s| s > 15) {
            return None;
        }
        let mut fast = Box::new([0u16; 1 << LOOKAHEAD]);
        let mut skip = Box::new([Skip(0); 1 << LOOKAHEAD]);
        let mut differences = Box::new([Difference(0); 1 << LOOKAHEAD]);
        let mut max_code = [-1i32; 18];
        let mut offset = [0i32; 17];
        let mut code: i32 = 0;
        let mut next = 0usize;
        for len in 1..=16u32 {
            let count = usize::from(counts[len as usize - 1]);
            offset[len as usize] = next as i32 - code;
            for _ in 0..count {
                let symbol = *symbols.get(next)?;
                if code >= 1 << len {
                    return None;
                }
                if len <= LOOKAHEAD {
                    let shift = LOOKAHEAD - len;
                    let first = (code as usize) << shift;
                    for entry in first..first + (1 << shift) {
                        fast[entry] = (len << 8) as u16 | u16::from(symbol);
                    }
                }
                code += 1;
                next += 1;
            }
            if count > 0 {
                max_code[len as usize] = code - 1;
            }
            code <<= 1;
        }
        max_code[17] = i32::MAX;
        if is_dc {
            for (prefix, entry) in differences.iter_mut().enumerate() {
                *entry = Difference::of_prefix(fast[prefix], prefix);
            }
        } else {
            for (prefix, entry) in skip.iter_mut().enumerate() {
                *entry = Skip::of_prefix(&fast, prefix);
            }
        }
        Some(Huffman {
            fast,
            skip,
            differences,
            max_code,
            offset,
            symbols: symbols.to_vec(),
        })
    }

    /// The symbol at the head of the stream, its code consumed. Needs 16 bits in `bits`.
    #[inline(always)]
    pub(super) fn decode(&self, bits: &mut Bits) -> Option<u8> {
        self.decode_looked_up(self.look_up(bits), bits)
    }

    /// The lookup of the code at the head of the stream (valid where `bits` holds [`LOOKAHEAD`] bits),
    /// for [`Huffman::decode_looked_up`]: taken before a refill, it does not wait for it.
    #[inline(always)]
    pub(super) fn look_up(&self, bits: &Bits) -> u16 {
        self.fast[bits.peek(LOOKAHEAD)]
    }

    /// [`Huffman::decode`] from the lookup `entry` of the stream's head. Needs 16 bits in `bits`.
    #[inline(always)]
    pub(super) fn decode_looked_up(&self, entry: u16, bits: &mut Bits) -> Option<u8> {
        if entry != 0 {
            bits.consume(u32::from(entry >> 8));
            return Some(entry as u8);
        }
        let (symbol, after) = self.decode_long(*bits)?;
        *bits = after;
        Some(symbol)
    }

    /// A code longer than [`LOOKAHEAD`] bits, by the canonical search, and the stream after it; `None`
    /// for no code. (It takes and returns the stream by value, so that the loops that call it keep the
    /// stream in registers.)
    #[cold]
    #[inline(never)]
    fn decode_long<'a>(&self, mut bits: Bits<'a>) -> Option<(u8, Bits<'a>)> {
        for len in LOOKAHEAD + 1..=16 {
            let code = bits.peek(len) as i32;
            if code <= self.max_code[len as usize] {
                bits.consume(len);
                let symbol = self
                    .symbols
                    .get(usize::try_from(self.offset[len as usize] + code).ok()?)
                    .copied()?;
                return Some((symbol, bits));
            }
        }
        None
    }
}

/// What passing over the AC coefficients whose codes start a [`LOOKAHEAD`]-bit prefix takes, an entry
/// of a skip table: as many whole coefficients (code and magnitude) as the prefix holds, up to an end of
/// block, and the first one alone, for where the block may end among them (its 64th coefficient needs
/// no end-of-block code). Several coefficients a lookup, where libjpeg reads one.
///
/// Packed in a u32: the bits of all the codes and magnitudes (bits 0-5), how far they move along the
/// block (6-11), whether the last ends the block (12), how far the ones before the last move (13-18);
/// the first alone in the same layout from bit 19 (its bits, its move, whether it ends), so that
/// [`Skip::first`] is one shift. 0: the first code is longer than the prefix, or its magnitude has more
/// than [`MAX_SKIP_SIZE`] bits.
#[derive(Clone, Copy)]
pub(super) struct Skip(u32);

impl Skip {
    const FIRST_AT: u32 = 19;

    fn of_prefix(fast: &[u16; 1 << LOOKAHEAD], prefix: usize) -> Skip {
        let mask = (1usize << LOOKAHEAD) - 1;
        let (mut used, mut advance, mut before_last, mut end) = (0u32, 0u32, 0u32, false);
        let mut first = None;
        while used < LOOKAHEAD {
            let entry = fast[(prefix << used) & mask];
            let len = u32::from(entry >> 8);
            if entry == 0 || len > LOOKAHEAD - used {
                break;
            }
            let (run, size) = (u32::from(entry as u8 >> 4), u32::from(entry as u8 & 15));
            if size > MAX_SKIP_SIZE {
                break;
            }
            let bits = len + size;
            if first.is_some() && used + bits > LOOKAHEAD {
                break;
            }
            let moves = if size != 0 {
                run + 1
            } else if run == 15 {
                16
            } else {
                0
            };
            if advance + moves > 63 {
                break;
            }
            before_last = advance;
            used += bits;
            advance += moves;
            end = moves == 0;
            first.get_or_insert((bits, moves, end));
            if end {
                break;
            }
        }
        let pack = |bits: u32, moves: u32, end: bool| bits | moves << 6 | u32::from(end) << 12;
        match first {
            None => Skip(0),
            Some((bits, moves, first_end)) => Skip(
                pack(used, advance, end)
                    | before_last << 13
                    | pack(bits, moves, first_end) << Self::FIRST_AT,
            ),
        }
    }

    /// Whether the prefix holds a whole coefficient (0: its first code is longer).
    #[inline(always)]
    pub(super) fn holds_any(self) -> bool {
        self.0 != 0
    }

    /// The bits of the codes and magnitudes (the decoder takes them with [`Skip::take`]).
    #[cfg(test)]
    pub(super) fn bits(self) -> u32 {
        self.0 & 63
    }

    /// The stream's `buf` and `count` after the entry's bits of codes and magnitudes, both from the
    /// whole entry, whose low 6 bits those are: a 64-bit shift takes its count modulo 64, and the `count`
    /// returned is right modulo 64 only (the caller masks it with 63 before any other use; the true count
    /// is within 0..64), so that the chain from one lookup to the next has no masking in it.
    #[inline(always)]
    pub(super) fn take(self, buf: u64, count: u32) -> (u64, u32) {
        (buf.wrapping_shl(self.0), count.wrapping_sub(self.0))
    }

    /// How far the coefficients move along the block.
    #[inline(always)]
    pub(super) fn advance(self) -> usize {
        (self.0 >> 6 & 63) as usize
    }

    /// Whether the last one ends the block.
    #[inline(always)]
    pub(super) fn ends(self) -> bool {
        self.0 & 1 << 12 != 0
    }

    /// How far the ones before the last move.
    #[inline(always)]
    pub(super) fn before_last(self) -> usize {
        (self.0 >> 13 & 63) as usize
    }

    /// The first coefficient alone.
    #[inline(always)]
    pub(super) fn first(self) -> Skip {
        Skip(self.0 >> Self::FIRST_AT)
    }

    /// [`Skip::first`], out of line: for the hot loop's rare case.
    #[cold]
    #[inline(never)]
    pub(super) fn first_alone(self) -> Skip {
        self.first()
    }
}

/// A DC difference whose code and magnitude a [`LOOKAHEAD`]-bit prefix holds whole, an entry of a DC
/// table's `differences`: one lookup where the code's and then the magnitude's take two dependent reads.
/// Packed in a u32: the bits of code and magnitude (bits 0-7), the difference (16-31, signed); 0 where
/// the prefix does not hold them.
#[derive(Clone, Copy)]
pub(super) struct Difference(u32);

impl Difference {
    fn of_prefix(fast: u16, prefix: usize) -> Difference {
        let (len, size) = (u32::from(fast >> 8), u32::from(fast & 15));
        if fast == 0 || len + size > LOOKAHEAD {
            return Difference(0);
        }
        let mut bits = Bits::of_word((prefix as u64) << (64 - LOOKAHEAD) << len);
        let value = bits.receive_extend(size);
        Difference((len + size) | ((value as u32) << 16))
    }

    /// The bits of code and magnitude (0: the prefix does not hold them).
    #[inline(always)]
    pub(super) fn bits(self) -> u32 {
        self.0 & 255
    }

    /// The difference.
    #[inline(always)]
    pub(super) fn value(self) -> i32 {
        self.0 as i32 >> 16
    }
}
