//! A block's coefficients from the stream: the DC coefficient, the AC coefficients passed over or
//! decoded, in zigzag order.

use super::bits::Bits;
use super::huffman::{Huffman, LOOKAHEAD, MAX_SKIP_SIZE};
use super::idct::{idct_2x2, ColumnSums, NOWHERE, SLOT};

/// A block's DC coefficient: the coded difference added to the component's predictor, kept as
/// libjpeg keeps it (the sum wraps; the coefficient is its low 16 bits).
#[inline(always)]
pub(super) fn decode_dc(bits: &mut Bits, table: &Huffman, predictor: &mut i32) -> Option<i16> {
    bits.ensure();
    let difference = table.differences[bits.peek(LOOKAHEAD)];
    let value = if difference.bits() != 0 {
        bits.consume(difference.bits());
        difference.value()
    } else {
        let size = u32::from(table.decode(bits)?);
        bits.receive_extend(size)
    };
    *predictor = predictor.wrapping_add(value);
    Some(*predictor as i16)
}

/// Passes over a block's AC coefficients. The hot loop of the decoder: the stream's bits are kept in
/// locals (in registers) and stored back only around a refill or a long code. A refill leaves at least
/// 56 bits and a step takes at most [`LOOKAHEAD`] + [`MAX_SKIP_SIZE`] (21), so two steps run on one
/// refill and still leave more bits than a lookup reads. The next lookup's index is taken from the bits
/// right after a step, before any refill: a refill only adds bits below the valid ones, so the index is
/// the same, and the chain from one lookup to the next is the load, a shift and a shift (the local
/// `count` is kept modulo 64 for that: see [`Skip::take`](super::huffman::Skip::take)).
#[inline(always)]
pub(super) fn skip_ac(bits: &mut Bits, table: &Huffman) -> Option<()> {
    const STEPS_PER_REFILL: u32 = 2;
    const _: () = assert!(56 - STEPS_PER_REFILL * (LOOKAHEAD + MAX_SKIP_SIZE) >= LOOKAHEAD);
    let skip = &*table.skip;
    // The first index from the bits the DC code left, where they are enough (nearly always: a branch
    // the processor predicts), so that the first lookup does not wait for the refill.
    let mut index = (bits.buf >> (64 - LOOKAHEAD)) as usize;
    let enough = bits.count >= LOOKAHEAD;
    bits.refill();
    let (mut buf, mut count) = (bits.buf, bits.count);
    if !enough {
        index = index_after_refill(buf);
    }
    let mut k = 1;
    'block: loop {
        for _ in 0..STEPS_PER_REFILL {
            let mut entry = skip[index];
            if !entry.holds_any() {
                // A code longer than the lookup, or a magnitude over MAX_SKIP_SIZE: one coefficient
                // the slow way, then a refill.
                (bits.buf, bits.count) = (buf, count & 63);
                bits.refill();
                let symbol = table.decode(bits)?;
                let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
                bits.consume(size);
                (buf, count) = (bits.buf, bits.count);
                if size != 0 {
                    k += run + 1;
                } else if run == 15 {
                    k += 16;
                } else {
                    break 'block;
                }
                if k >= 64 {
                    break 'block;
                }
                bits.refill();
                (buf, count) = (bits.buf, bits.count);
                index = (buf >> (64 - LOOKAHEAD)) as usize;
                continue 'block;
            }
            // All the coefficients the prefix holds, unless the block may end among them (rare: a
            // branch, which the processor predicts, where a select would wait for the comparison).
            if k + entry.before_last() >= 64 {
                entry = entry.first_alone();
            }
            (buf, count) = entry.take(buf, count);
            index = (buf >> (64 - LOOKAHEAD)) as usize;
            if entry.ends() {
                break 'block;
            }
            k += entry.advance();
            if k >= 64 {
                break 'block;
            }
        }
        (bits.buf, bits.count) = (buf, count & 63);
        bits.refill();
        (buf, count) = (bits.buf, bits.count);
    }
    (bits.buf, bits.count) = (buf, count & 63);
    Some(())
}

/// The lookup index of `buf`, out of line: for [`skip_ac`]'s rare start with fewer bits than a lookup.
#[cold]
#[inline(never)]
fn index_after_refill(buf: u64) -> usize {
    (buf >> (64 - LOOKAHEAD)) as usize
}

/// A block whose component libjpeg-turbo decodes at 2x2 at this scale: its AC coefficients (after
/// `dc`) summed as they are decoded into libjpeg's 2x2 inverse DCT's first pass (`weights`: its component's
/// [`weights_2x2`](super::idct::weights_2x2)), then that inverse DCT.
#[inline(always)]
pub(super) fn decode_2x2(
    bits: &mut Bits,
    table: &Huffman,
    weights: &[i32; 80],
    dc: i16,
) -> Option<[[u8; 2]; 2]> {
    let mut sums: ColumnSums = [0; NOWHERE + 1];
    sums[usize::from(SLOT[0])] = i32::from(dc).wrapping_mul(weights[0]);
    decode_ac(bits, table, weights, &mut sums)?;
    Some(idct_2x2(&sums))
}

/// Decodes a block's AC coefficients, each added (times its weight) into its slot of `sums`. A zigzag
/// index past the block's end (a damaged stream's run) stands for the last coefficient, as in libjpeg;
/// the block then ends, so no coefficient is added twice.
#[inline(always)]
fn decode_ac(
    bits: &mut Bits,
    table: &Huffman,
    weights: &[i32; 80],
    sums: &mut ColumnSums,
) -> Option<()> {
    let mut k = 1;
    // A refill leaves at least 56 bits; a coefficient takes at most 16 (its code) + MAX_SKIP_SIZE, so
    // two take one refill (a larger magnitude refills again before it is read). The lookup of a pair's
    // first code is taken before the refill where the bits are enough (nearly always), as in skip_ac.
    let mut entry = table.look_up(bits);
    'block: loop {
        let enough = bits.count >= LOOKAHEAD;
        bits.refill();
        if !enough {
            entry = look_up_after_refill(table, *bits);
        }
        for _ in 0..2 {
            let symbol = table.decode_looked_up(entry, bits)?;
            let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
            if size != 0 {
                if size > MAX_SKIP_SIZE {
                    bits.refill();
                }
                k += run;
                // libjpeg keeps the coefficient as 16 bits.
                let value = i32::from(bits.receive_extend(size) as i16);
                let slot = &mut sums[usize::from(SLOT[k])];
                *slot = slot.wrapping_add(value.wrapping_mul(weights[k]));
            } else if run != 15 {
                break 'block;
            } else {
                k += 15;
            }
            k += 1;
            if k >= 64 {
                break 'block;
            }
            entry = table.look_up(bits);
        }
    }
    Some(())
}

/// [`Huffman::look_up`], out of line: for [`decode_ac`]'s rare pair that starts with fewer bits than a
/// lookup. It takes the stream by value: a reference to it, passed to a function not inlined, would keep
/// the decoder's stream in memory (its address taken) instead of in registers everywhere.
#[cold]
#[inline(never)]
fn look_up_after_refill(table: &Huffman, bits: Bits) -> u16 {
    table.look_up(&bits)
}
