//! libjpeg's arithmetic from coefficients to pixels at this scale: its 1x1 and 2x2 inverse DCTs, its
//! range limit and its YCbCr to RGB.

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

/// libjpeg's 2x2 inverse DCT (jidctred.c: columns and rows 0, 1, 3, 5 and 7 of the coefficients), in
/// its 32-bit arithmetic. Without libjpeg's shortcuts for a column or row with no AC coefficients: they
/// give the same numbers (a zero odd part changes nothing in the descaling), and a branch on the
/// coefficients is mispredicted where the arithmetic costs a few multiplies.
#[inline]
pub(super) fn idct_2x2(block: &[i16; 64], quant: &[u16; 64]) -> [[u8; 2]; 2] {
    const CONST_BITS: u32 = 13;
    const PASS1_BITS: u32 = 2;
    const FIX_0_720959822: i32 = 5906;
    const FIX_0_850430095: i32 = 6967;
    const FIX_1_272758580: i32 = 10426;
    const FIX_3_624509785: i32 = 29692;
    // libjpeg keeps its quantization table as 16-bit signed multipliers.
    let coef = |at: usize| i32::from(block[at]).wrapping_mul(i32::from(quant[at] as i16));
    let descale = |x: i32, n: u32| x.wrapping_add(1 << (n - 1)) >> n;
    let odd = |c7: i32, c5: i32, c3: i32, c1: i32| {
        (c7.wrapping_mul(-FIX_0_720959822))
            .wrapping_add(c5.wrapping_mul(FIX_0_850430095))
            .wrapping_add(c3.wrapping_mul(-FIX_1_272758580))
            .wrapping_add(c1.wrapping_mul(FIX_3_624509785))
    };
    // Pass 1: the columns, into two rows of the work array.
    let mut work = [[0i32; 8]; 2];
    for col in [0, 1, 3, 5, 7] {
        let even = coef(col) << (CONST_BITS + 2);
        let odd = odd(
            coef(56 + col),
            coef(40 + col),
            coef(24 + col),
            coef(8 + col),
        );
        work[0][col] = descale(even.wrapping_add(odd), CONST_BITS - PASS1_BITS + 2);
        work[1][col] = descale(even.wrapping_sub(odd), CONST_BITS - PASS1_BITS + 2);
    }
    // Pass 2: the two rows.
    work.map(|w| {
        let even = w[0] << (CONST_BITS + 2);
        let odd = odd(w[7], w[5], w[3], w[1]);
        [
            idct_limit(descale(
                even.wrapping_add(odd),
                CONST_BITS + PASS1_BITS + 3 + 2,
            )),
            idct_limit(descale(
                even.wrapping_sub(odd),
                CONST_BITS + PASS1_BITS + 3 + 2,
            )),
        ]
    })
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
