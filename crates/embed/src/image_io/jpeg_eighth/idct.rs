//! libjpeg's arithmetic from coefficients to pixels at this scale: its 1x1 and 2x2 inverse DCTs, its
//! range limit and its YCbCr to RGB.

/// Zigzag order to natural (row-major) order, and 16 entries past the end that map to 63, as libjpeg's
/// table does: a run that overshoots the block in a damaged stream lands on the last coefficient.
pub(super) const NATURAL: [u8; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 63, 63, 63,
];

/// libjpeg's range limit after an inverse DCT: `x` is a sample less 128, taken modulo 1024 as its
/// table does (a damaged stream can overflow the IDCT; the table wraps rather than clamps there). A
/// table here too, indexed by the sample (`x + 128`, modulo 1024): a branch on which side of the range a
/// pixel falls would be mispredicted half the time.
#[inline(always)]
fn idct_limit(x: i32) -> u8 {
    /// The sample, modulo 1024: itself within 0..=255, 255 above (up to 639), 0 below (640 and up, the
    /// negative samples).
    static RANGE_LIMIT: [u8; 1024] = {
        let mut table = [0u8; 1024];
        let mut sample = 0;
        while sample < 640 {
            table[sample] = if sample < 256 { sample as u8 } else { 255 };
            sample += 1;
        }
        table
    };
    RANGE_LIMIT[x.wrapping_add(128) as usize & 1023]
}

/// libjpeg's 1x1 inverse DCT: the dequantized DC over 8, rounded.
#[inline(always)]
pub(super) fn idct_1x1(dc: i16, quant: u16) -> u8 {
    idct_limit((i32::from(dc) * i32::from(quant as i16) + 4) >> 3)
}

// libjpeg's 2x2 inverse DCT (jidctred.c) reads the coefficients of columns and rows 0, 1, 3, 5 and 7. Its
// first pass gives each of those columns an even part (row 0's coefficient, dequantized, times 2^15) and an
// odd part (rows 1, 3, 5 and 7's, dequantized, times its constants), and descales their sum and difference
// into the two rows of its work array; its second pass does the same along those two rows. Both parts are
// sums of products, so the decoder adds each coefficient into its column's part as it decodes it
// ([`ColumnSums`]) and the first pass is left with a few additions and shifts: a chroma block holds a handful of
// coefficients, where the whole first pass reads 25 and multiplies them twice. The numbers are libjpeg's
// 32-bit wrapping arithmetic either way (wrapping multiplication and addition associate and commute).

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;
const FIX_0_720959822: i32 = 5906;
const FIX_0_850430095: i32 = 6967;
const FIX_1_272758580: i32 = 10426;
const FIX_3_624509785: i32 = 29692;

/// The multiplier of the coefficient in row (or column) `i` of the block in its part of the 2x2 inverse
/// DCT's pass: `2^15` for the even part's index 0, a constant of the odd part for 1, 3, 5 and 7, none (0)
/// for the indices that inverse DCT does not read.
const fn factor(i: usize) -> i32 {
    match i {
        0 => 1 << (CONST_BITS + 2),
        1 => FIX_3_624509785,
        3 => -FIX_1_272758580,
        5 => FIX_0_850430095,
        7 => -FIX_0_720959822,
        _ => 0,
    }
}

/// The 2x2 inverse DCT's first-pass sums of one block: for each column, its even part (index `2 * column`)
/// and its odd part (`2 * column + 1`); [`NOWHERE`] takes the coefficients that inverse DCT does
/// not read (with a weight of 0).
pub(super) type ColumnSums = [i32; NOWHERE + 1];

/// Where the coefficient at each zigzag index (as [`NATURAL`]: the 16 entries past the end stand for the
/// last coefficient) is summed in [`ColumnSums`].
pub(super) const SLOT: [u8; 80] = {
    let mut slot = [0u8; 80];
    let mut k = 0;
    while k < 80 {
        let natural = NATURAL[k] as usize;
        let (row, column) = (natural / 8, natural % 8);
        slot[k] = if factor(row) == 0 || factor(column) == 0 {
            NOWHERE as u8
        } else {
            (2 * column + (row != 0) as usize) as u8
        };
        k += 1;
    }
    slot
};

/// The slot of [`ColumnSums`] for the coefficients that the 2x2 inverse DCT does not read.
pub(super) const NOWHERE: usize = 16;

/// Each zigzag index's weight in [`ColumnSums`] for a quantization table (natural order): its
/// dequantization (libjpeg keeps the table as 16-bit signed multipliers) times its row's multiplier, or 0
/// where the 2x2 inverse DCT does not read the coefficient.
pub(super) fn weights_2x2(quant: &[u16; 64]) -> [i32; 80] {
    let mut weights = [0i32; 80];
    for (k, weight) in weights.iter_mut().enumerate() {
        let natural = usize::from(NATURAL[k]);
        if usize::from(SLOT[k]) != NOWHERE {
            *weight = i32::from(quant[natural] as i16).wrapping_mul(factor(natural / 8));
        }
    }
    weights
}

/// libjpeg's 2x2 inverse DCT of a block whose first-pass sums are `sums`. Without libjpeg's shortcuts for
/// a column or row with no AC coefficients: they give the same numbers (a zero odd part changes nothing in
/// the descaling), and a branch on the coefficients is mispredicted where the arithmetic costs a few
/// multiplies.
#[inline(always)]
pub(super) fn idct_2x2(sums: &ColumnSums) -> [[u8; 2]; 2] {
    let descale = |x: i32, n: u32| x.wrapping_add(1 << (n - 1)) >> n;
    // Pass 1: each column's two samples of the work array.
    let column = |c: usize| {
        let (even, odd) = (sums[2 * c], sums[2 * c + 1]);
        let n = CONST_BITS - PASS1_BITS + 2;
        (
            descale(even.wrapping_add(odd), n),
            descale(even.wrapping_sub(odd), n),
        )
    };
    // Written out: an array's `map` here is a call the compiler does not inline.
    let (c0, c1, c3, c5, c7) = (column(0), column(1), column(3), column(5), column(7));
    // Pass 2: the two rows.
    let row = |w0: i32, w1: i32, w3: i32, w5: i32, w7: i32| {
        let even = w0.wrapping_mul(factor(0));
        let odd = w1
            .wrapping_mul(factor(1))
            .wrapping_add(w3.wrapping_mul(factor(3)))
            .wrapping_add(w5.wrapping_mul(factor(5)))
            .wrapping_add(w7.wrapping_mul(factor(7)));
        let n = CONST_BITS + PASS1_BITS + 3 + 2;
        [
            idct_limit(descale(even.wrapping_add(odd), n)),
            idct_limit(descale(even.wrapping_sub(odd), n)),
        ]
    };
    [
        row(c0.0, c1.0, c3.0, c5.0, c7.0),
        row(c0.1, c1.1, c3.1, c5.1, c7.1),
    ]
}

/// libjpeg's YCbCr to RGB (jdcolor.c: 16-bit fixed point, each term rounded as its tables round it).
#[inline(always)]
pub(super) fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    const SCALEBITS: i32 = 16;
    const ONE_HALF: i32 = 1 << (SCALEBITS - 1);
    const fn fix(x: f64) -> i32 {
        (x * (1 << SCALEBITS) as f64 + 0.5) as i32
    }
    let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
    let red = (fix(1.40200) * cr + ONE_HALF) >> SCALEBITS;
    let blue = (fix(1.77200) * cb + ONE_HALF) >> SCALEBITS;
    let green = (-fix(0.34414) * cb + ONE_HALF + -fix(0.71414) * cr) >> SCALEBITS;
    [
        (y + red).clamp(0, 255) as u8,
        (y + green).clamp(0, 255) as u8,
        (y + blue).clamp(0, 255) as u8,
    ]
}
