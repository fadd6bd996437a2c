//! Baseline JPEGs at 1/8 of their size, byte for byte what libjpeg-turbo makes at that scale, in less
//! time (about 0.8 of it on 12-megapixel phone photos: `cargo bench --bench jpeg_eighth`).
//!
//! At 1/8 a JPEG's pixel is its block's mean, the DC coefficient dequantized and divided by 8: libjpeg-turbo's
//! 1x1 inverse DCT. libjpeg-turbo skips the inverse DCT's work at this scale but not the entropy decoding,
//! which is then nearly all of its time (nine tenths in a profile of a 12-megapixel phone photo): its
//! Huffman decoder looks each AC coefficient's code up, then refills, then drops the coefficient's
//! magnitude bits. The coefficients that are not needed carry no information at 1/8 but their length, so
//! here one lookup of the next 11 bits of the stream gives every whole coefficient (code and
//! magnitude) they hold: how many bits those take, how far they move along the block and whether the
//! block ends among them (`Skip`). One table read and one shift pass over several coefficients.
//!
//! **What it decodes**: 8-bit sequential Huffman JPEGs (SOF0, SOF1) whose one scan holds every component,
//! grayscale or YCbCr, restart markers included, with libjpeg-turbo's own arithmetic throughout (its
//! range limiting, its YCbCr tables, its replication upsampling at this scale). A chroma component that
//! libjpeg-turbo decodes at 2x2 here (4:2:0, where its scaled inverse DCT stands in for the upsampling)
//! is decoded with its coefficients and the same 2x2 inverse DCT. Anything else (progressive or
//! arithmetic coding, 12-bit samples, CMYK, an RGB-coded JPEG, sampling factors libjpeg-turbo handles
//! otherwise, a stream damaged anywhere: a bad code, a missing or unexpected marker, data that ends
//! early) gives `None`, and the caller decodes the file with libjpeg-turbo, so a damaged file meets the
//! same decoder, warnings and all, as it would without this one. The tests compare every pixel with
//! libjpeg-turbo's on photos, on synthetic JPEGs of every subsampling and size class, and on files with
//! restart markers.

use image::RgbImage;

/// Bits of the stream a Huffman lookup resolves at once; longer codes take the canonical search.
const LOOKAHEAD: u32 = 11;

/// Zigzag order to natural (row-major) order, and 16 entries past the end that map to 63, as libjpeg's
/// table does: a run that overshoots the block in a damaged stream lands on the last coefficient.
const NATURAL: [u8; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 63, 63, 63,
];

/// Decodes `bytes` at 1/8 scale (each side rounded up) as RGB, or `None` where libjpeg-turbo should (see
/// the module docs).
pub fn decode(bytes: &[u8]) -> Option<RgbImage> {
    let (frame, scan_start) = Header::read(bytes)?;
    let planes = frame.decode_scan(bytes, scan_start)?;
    frame.to_rgb(&planes)
}

/// A Huffman table as decoding needs it.
struct Huffman {
    /// For each [`LOOKAHEAD`]-bit prefix of the stream: the code's length << 8 | its symbol, or 0 where
    /// the code is longer (or no code starts so).
    fast: Box<[u16; 1 << LOOKAHEAD]>,
    /// For AC tables, what skipping the coefficients whose codes the prefix holds takes (a [`Skip`]),
    /// 0 where the first code is longer.
    skip: Box<[Skip; 1 << LOOKAHEAD]>,
    /// The largest code of each length (-1: none).
    max_code: [i32; 18],
    /// For each length, the index in `symbols` of its first code, less that code.
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Huffman {
    /// Builds the canonical code of a DHT table (JPEG Annex C), or `None` for a table libjpeg refuses.
    fn new(counts: &[u8; 16], symbols: &[u8], is_dc: bool) -> Option<Huffman> {
        if is_dc && symbols.iter().any(|&s| s > 15) {
            return None;
        }
        let mut fast = Box::new([0u16; 1 << LOOKAHEAD]);
        let mut skip = Box::new([Skip(0); 1 << LOOKAHEAD]);
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
        if !is_dc {
            for (prefix, entry) in skip.iter_mut().enumerate() {
                *entry = Skip::of_prefix(&fast, prefix);
            }
        }
        Some(Huffman {
            fast,
            skip,
            max_code,
            offset,
            symbols: symbols.to_vec(),
        })
    }

    /// The symbol at the head of the stream, its code consumed. Needs 16 bits in `bits`.
    #[inline(always)]
    fn decode(&self, bits: &mut Bits) -> Option<u8> {
        let entry = self.fast[bits.peek(LOOKAHEAD)];
        if entry != 0 {
            bits.consume(u32::from(entry >> 8));
            return Some(entry as u8);
        }
        let (symbol, after) = self.decode_long(*bits)?;
        *bits = after;
        Some(symbol)
    }

    /// A code longer than [`LOOKAHEAD`] bits, by the canonical search, and the stream after it; `None`
    /// for no code. (It takes and returns the stream by value, as the cold refill does, so that the hot
    /// loops keep it in registers.)
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
/// [`Skip::first`] is one shift. 0: the first code is longer than the prefix.
#[derive(Clone, Copy)]
struct Skip(u32);

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

    /// The bits of the codes and magnitudes.
    #[inline(always)]
    fn bits(self) -> u32 {
        self.0 & 63
    }

    /// How far the coefficients move along the block.
    #[inline(always)]
    fn advance(self) -> usize {
        (self.0 >> 6 & 63) as usize
    }

    /// Whether the last one ends the block.
    #[inline(always)]
    fn ends(self) -> bool {
        self.0 & 1 << 12 != 0
    }

    /// How far the ones before the last move.
    #[inline(always)]
    fn before_last(self) -> usize {
        (self.0 >> 13 & 63) as usize
    }

    /// The first coefficient alone.
    #[inline(always)]
    fn first(self) -> Skip {
        Skip(self.0 >> Self::FIRST_AT)
    }

    /// [`Skip::first`], out of line: for the hot loop's rare case.
    #[cold]
    #[inline(never)]
    fn first_alone(self) -> Skip {
        self.first()
    }
}

/// The entropy-coded stream, read MSB first with its stuffed zero bytes removed, stopping at a marker.
#[derive(Clone, Copy)]
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// The next bits, left-aligned. The bits below the `count` valid ones are zero or the stream's
    /// next bits (a refill reads whole words and counts their whole bytes only).
    buf: u64,
    count: u32,
    /// Zero bits appended after a marker or the end of the data (what libjpeg does too, with a warning):
    /// a stream that consumes them is damaged.
    padding: u32,
    at_marker: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
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
    fn ensure(&mut self) {
        if self.count < 32 {
            self.refill();
        }
    }

    /// Tops the bits up from the next word where it can (see [`Bits::refill_word`]), byte by byte only
    /// where fewer than 32 are left: at least 32 after it.
    #[inline(always)]
    fn refill_to_32(&mut self) {
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
    fn peek(&self, n: u32) -> usize {
        (self.buf >> (64 - n)) as usize
    }

    /// Drops `n` bits (at most the `count` available).
    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.count -= n;
    }

    /// A coefficient of `size` magnitude bits (0 to 15), sign-extended as JPEG codes it.
    #[inline(always)]
    fn receive_extend(&mut self, size: u32) -> i32 {
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
    fn read_marker(&mut self, marker: u8) -> bool {
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

/// A frame component as the scan decodes it.
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc: usize,
    ac: usize,
    /// Pixels a block gives at 1/8 scale: 1, or 2 where libjpeg-turbo scales this component's inverse DCT
    /// instead of upsampling it.
    scale: usize,
    /// Blocks across and down that the scan codes for this component.
    blocks_w: usize,
    blocks_h: usize,
}

/// Everything before the entropy-coded data that decoding needs.
struct Header {
    width: usize,
    height: usize,
    components: Vec<Component>,
    h_max: usize,
    v_max: usize,
    /// Quantization tables in natural order.
    quant: [[u16; 64]; 4],
    /// DC tables 0-3, then AC tables 0-3.
    huffman: [Option<Huffman>; 8],
    restart_interval: usize,
}

/// A big-endian u16 at `at`.
fn be16(bytes: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(*bytes.get(at)?) << 8 | usize::from(*bytes.get(at + 1)?))
}

impl Header {
    /// Reads the markers up to the first scan; returns the header and where the scan's data starts.
    fn read(bytes: &[u8]) -> Option<(Header, usize)> {
        if bytes.get(..2)? != [0xFF, 0xD8] {
            return None;
        }
        let mut header = Header {
            width: 0,
            height: 0,
            components: Vec::new(),
            h_max: 1,
            v_max: 1,
            quant: [[0; 64]; 4],
            huffman: Default::default(),
            restart_interval: 0,
        };
        let (mut jfif, mut adobe_transform) = (false, None);
        let mut pos = 2;
        loop {
            if *bytes.get(pos)? != 0xFF {
                return None;
            }
            while *bytes.get(pos + 1)? == 0xFF {
                pos += 1;
            }
            let marker = *bytes.get(pos + 1)?;
            if matches!(marker, 0xD0..=0xD9 | 0x01) {
                return None;
            }
            let length = be16(bytes, pos + 2)?;
            if length < 2 {
                return None;
            }
            let body = bytes.get(pos + 4..pos + 2 + length)?;
            match marker {
                0xC0 | 0xC1 => header.read_frame(body)?,
                0xC2..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => return None,
                0xC4 => header.read_huffman(body)?,
                0xDB => header.read_quant(body)?,
                0xDD => header.restart_interval = be16(body, 0)?,
                // libjpeg's tests: a JFIF APP0 of at least 14 bytes, an Adobe APP14 of at least 12.
                0xE0 if body.len() >= 14 && body.starts_with(b"JFIF\0") => jfif = true,
                0xEE if body.starts_with(b"Adobe") => adobe_transform = Some(*body.get(11)?),
                0xDA => {
                    let start = pos + 2 + length;
                    header.read_scan(body, jfif, adobe_transform)?;
                    return Some((header, start));
                }
                _ => {}
            }
            pos += 2 + length;
        }
    }

    fn read_frame(&mut self, body: &[u8]) -> Option<()> {
        if !self.components.is_empty() || *body.first()? != 8 {
            return None;
        }
        self.height = be16(body, 1)?;
        self.width = be16(body, 3)?;
        let count = usize::from(*body.get(5)?);
        if self.width == 0 || self.height == 0 || !(count == 1 || count == 3) {
            return None;
        }
        for i in 0..count {
            let at = 6 + 3 * i;
            let sampling = *body.get(at + 1)?;
            let (h, v) = (usize::from(sampling >> 4), usize::from(sampling & 15));
            let quant = usize::from(*body.get(at + 2)?);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || quant > 3 {
                return None;
            }
            self.components.push(Component {
                id: *body.get(at)?,
                h,
                v,
                quant,
                dc: 0,
                ac: 4,
                scale: 1,
                blocks_w: 0,
                blocks_h: 0,
            });
        }
        Some(())
    }

    fn read_huffman(&mut self, mut body: &[u8]) -> Option<()> {
        while !body.is_empty() {
            let class_id = *body.first()?;
            let (class, id) = (class_id >> 4, usize::from(class_id & 15));
            if class > 1 || id > 3 {
                return None;
            }
            let counts: [u8; 16] = body.get(1..17)?.try_into().ok()?;
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            if total > 256 {
                return None;
            }
            let symbols = body.get(17..17 + total)?;
            self.huffman[usize::from(class) * 4 + id] =
                Some(Huffman::new(&counts, symbols, class == 0)?);
            body = &body[17 + total..];
        }
        Some(())
    }

    fn read_quant(&mut self, mut body: &[u8]) -> Option<()> {
        while !body.is_empty() {
            let precision_id = *body.first()?;
            let (sixteen, id) = (precision_id >> 4, usize::from(precision_id & 15));
            if sixteen > 1 || id > 3 {
                return None;
            }
            let size = if sixteen == 1 { 2 } else { 1 };
            for (k, &natural) in NATURAL[..64].iter().enumerate() {
                let value = if sixteen == 1 {
                    be16(body, 1 + 2 * k)? as u16
                } else {
                    u16::from(*body.get(1 + k)?)
                };
                self.quant[id][usize::from(natural)] = value;
            }
            body = body.get(1 + 64 * size..)?;
        }
        Some(())
    }

    /// Reads the SOS header: the scan must hold every component (then it is the only scan) as a
    /// sequential one does; sets each component's tables, scale and block counts.
    fn read_scan(&mut self, body: &[u8], jfif: bool, adobe_transform: Option<u8>) -> Option<()> {
        let count = usize::from(*body.first()?);
        if self.components.is_empty() || count != self.components.len() {
            return None;
        }
        if count == 3 {
            // libjpeg's choice of colour space: only YCbCr is decoded here.
            // (An Adobe transform other than 0 or 1 is taken as YCbCr with a warning: left to libjpeg.)
            let ids: Vec<u8> = self.components.iter().map(|c| c.id).collect();
            let ycc = match (jfif, adobe_transform) {
                (true, _) => true,
                (false, Some(transform)) => transform == 1,
                (false, None) => ids != [82, 71, 66],
            };
            if !ycc {
                return None;
            }
        }
        for i in 0..count {
            let id = *body.get(1 + 2 * i)?;
            let tables = *body.get(2 + 2 * i)?;
            let component = self.components.get_mut(i).filter(|c| c.id == id)?;
            component.dc = usize::from(tables >> 4);
            component.ac = 4 + usize::from(tables & 15);
            if component.dc > 3 || component.ac > 7 {
                return None;
            }
        }
        let tail = body.get(1 + 2 * count..4 + 2 * count)?;
        if tail != [0, 63, 0] {
            return None;
        }
        for component in &self.components {
            self.huffman[component.dc].as_ref()?;
            self.huffman[component.ac].as_ref()?;
        }
        if count == 1 {
            // One component: no interleaving, and its sampling factors do not matter.
            let component = &mut self.components[0];
            (component.h, component.v) = (1, 1);
        }
        self.h_max = self.components.iter().map(|c| c.h).max()?;
        self.v_max = self.components.iter().map(|c| c.v).max()?;
        let (h_max, v_max) = (self.h_max, self.v_max);
        let (mcus_x, mcus_y) = (
            self.width.div_ceil(8 * h_max),
            self.height.div_ceil(8 * v_max),
        );
        for component in &mut self.components {
            // libjpeg-turbo's jdmaster.c: the IDCT of a subsampled component scales up while that
            // replaces upsampling by two in both directions.
            let mut scale = 1;
            while scale < 8
                && h_max % (component.h * scale * 2) == 0
                && v_max % (component.v * scale * 2) == 0
            {
                scale *= 2;
            }
            if scale > 2 || h_max % (component.h * scale) != 0 || v_max % (component.v * scale) != 0
            {
                return None;
            }
            component.scale = scale;
            if count == 1 {
                (component.blocks_w, component.blocks_h) =
                    (self.width.div_ceil(8), self.height.div_ceil(8));
            } else {
                (component.blocks_w, component.blocks_h) =
                    (mcus_x * component.h, mcus_y * component.v);
            }
        }
        Some(())
    }

    /// Decodes the scan at `start` into one plane per component, `blocks_w * scale` pixels across.
    fn decode_scan(&self, bytes: &[u8], start: usize) -> Option<Vec<Vec<u8>>> {
        struct Coding<'h> {
            dc: &'h Huffman,
            ac: &'h Huffman,
            quant: &'h [u16; 64],
        }
        let coding = self
            .components
            .iter()
            .map(|c| {
                Some(Coding {
                    dc: self.huffman[c.dc].as_ref()?,
                    ac: self.huffman[c.ac].as_ref()?,
                    quant: &self.quant[c.quant],
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let mut planes: Vec<Vec<u8>> = self
            .components
            .iter()
            .map(|c| vec![0u8; c.blocks_w * c.scale * c.blocks_h * c.scale])
            .collect();
        let mut predictors = vec![0i32; self.components.len()];
        let mut bits = Bits::new(bytes, start);
        let (mcus_x, mcus_y) = if self.components.len() == 1 {
            (self.components[0].blocks_w, self.components[0].blocks_h)
        } else {
            (
                self.width.div_ceil(8 * self.h_max),
                self.height.div_ceil(8 * self.v_max),
            )
        };
        let mut block = [0i16; 64];
        let (mut in_interval, mut next_restart) = (0usize, 0u8);
        for mcu_y in 0..mcus_y {
            for mcu_x in 0..mcus_x {
                if self.restart_interval > 0 && in_interval == self.restart_interval {
                    if !bits.read_marker(0xD0 + next_restart) {
                        return None;
                    }
                    next_restart = (next_restart + 1) & 7;
                    in_interval = 0;
                    predictors.iter_mut().for_each(|p| *p = 0);
                }
                in_interval += 1;
                for (index, component) in self.components.iter().enumerate() {
                    let Coding { dc, ac, quant } = coding[index];
                    let plane = &mut planes[index];
                    let stride = component.blocks_w * component.scale;
                    for by in 0..component.v {
                        for bx in 0..component.h {
                            let (x, y) = (mcu_x * component.h + bx, mcu_y * component.v + by);
                            let dc_value = decode_dc(&mut bits, dc, &mut predictors[index])?;
                            if component.scale == 1 {
                                skip_ac(&mut bits, ac)?;
                                plane[y * stride + x] = idct_1x1(dc_value, quant[0]);
                            } else {
                                let pixels =
                                    decode_2x2(&mut bits, ac, quant, &mut block, dc_value)?;
                                let at = 2 * y * stride + 2 * x;
                                plane[at..at + 2].copy_from_slice(&pixels[0]);
                                plane[at + stride..at + stride + 2].copy_from_slice(&pixels[1]);
                            }
                        }
                    }
                }
            }
        }
        bits.read_marker(0xD9).then_some(planes)
    }

    /// The planes upsampled by replication (libjpeg-turbo's at 1/8 scale) and converted to RGB.
    fn to_rgb(&self, planes: &[Vec<u8>]) -> Option<RgbImage> {
        let (width, height) = (self.width.div_ceil(8), self.height.div_ceil(8));
        // For each component: the plane's stride, its rows' expansion, and the plane column of each pixel.
        let layout: Vec<(usize, usize, Vec<usize>)> = self
            .components
            .iter()
            .map(|c| {
                let h_expand = self.h_max / (c.h * c.scale);
                let v_expand = self.v_max / (c.v * c.scale);
                (
                    c.blocks_w * c.scale,
                    v_expand,
                    (0..width).map(|x| x / h_expand).collect(),
                )
            })
            .collect();
        let row = |index: usize, y: usize| -> Option<&[u8]> {
            let (stride, v_expand, _) = &layout[index];
            planes[index].get(y / v_expand * stride..)
        };
        let mut rgb = vec![0u8; 3 * width * height];
        for (y, out) in rgb.chunks_exact_mut(3 * width).enumerate() {
            let luma = row(0, y)?;
            if self.components.len() == 1 {
                for (pixel, &column) in out.chunks_exact_mut(3).zip(&layout[0].2) {
                    pixel.fill(*luma.get(column)?);
                }
            } else {
                let (cb, cr) = (row(1, y)?, row(2, y)?);
                for (x, pixel) in out.chunks_exact_mut(3).enumerate() {
                    pixel.copy_from_slice(&ycc_to_rgb(
                        *luma.get(layout[0].2[x])?,
                        *cb.get(layout[1].2[x])?,
                        *cr.get(layout[2].2[x])?,
                    ));
                }
            }
        }
        RgbImage::from_raw(u32::try_from(width).ok()?, u32::try_from(height).ok()?, rgb)
    }
}

/// A block's DC coefficient: the coded difference added to the component's predictor, kept as
/// libjpeg keeps it (the sum wraps; the coefficient is its low 16 bits).
#[inline(always)]
fn decode_dc(bits: &mut Bits, table: &Huffman, predictor: &mut i32) -> Option<i16> {
    bits.ensure();
    let size = u32::from(table.decode(bits)?);
    *predictor = predictor.wrapping_add(bits.receive_extend(size));
    Some(*predictor as i16)
}

/// Passes over a block's AC coefficients. The hot loop of the decoder: the stream's bits are kept in
/// locals (in registers) and stored back only around a cold refill or a long code. The next lookup's
/// index is taken from the bits right after a step, before the refill: a refill only adds bits below
/// the valid ones, so the index is the same, and the chain from one lookup to the next is the load, a
/// shift and a shift (the refill runs beside it).
#[inline(always)]
fn skip_ac(bits: &mut Bits, table: &Huffman) -> Option<()> {
    let skip = &*table.skip;
    bits.refill_to_32();
    let (mut buf, mut count) = (bits.buf, bits.count);
    let mut index = (buf >> (64 - LOOKAHEAD)) as usize;
    let mut k = 1;
    loop {
        let mut entry = skip[index];
        if entry.0 != 0 {
            // All the coefficients the prefix holds, unless the block may end among them (rare: a
            // branch, which the processor predicts, where a select would wait for the comparison).
            if k + entry.before_last() >= 64 {
                entry = entry.first_alone();
            }
            buf <<= entry.bits();
            count -= entry.bits();
            index = (buf >> (64 - LOOKAHEAD)) as usize;
            if entry.ends() {
                break;
            }
            k += entry.advance();
        } else {
            (bits.buf, bits.count) = (buf, count);
            let (symbol, after) = table.decode_long(*bits)?;
            *bits = after;
            let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
            bits.consume(size);
            (buf, count) = (bits.buf, bits.count);
            if size != 0 {
                k += run + 1;
            } else if run == 15 {
                k += 16;
            } else {
                break;
            }
            if k >= 64 {
                break;
            }
            // A long code and its magnitude may leave fewer bits than a lookup reads: index after
            // the refill.
            bits.refill_to_32();
            (buf, count) = (bits.buf, bits.count);
            index = (buf >> (64 - LOOKAHEAD)) as usize;
            continue;
        }
        if k >= 64 {
            break;
        }
        (bits.buf, bits.count) = (buf, count);
        bits.refill_to_32();
        (buf, count) = (bits.buf, bits.count);
    }
    (bits.buf, bits.count) = (buf, count);
    Some(())
}

/// A block whose component libjpeg-turbo decodes at 2x2 at this scale: its AC coefficients (after
/// `dc`) through libjpeg's 2x2 inverse DCT. `block` is all zeros before and after.
#[inline(always)]
fn decode_2x2(
    bits: &mut Bits,
    table: &Huffman,
    quant: &[u16; 64],
    block: &mut [i16; 64],
    dc: i16,
) -> Option<[[u8; 2]; 2]> {
    let written = decode_ac(bits, table, block)?;
    block[0] = dc;
    let pixels = idct_2x2(block, quant, written);
    block[0] = 0;
    let mut left = written;
    while left != 0 {
        block[left.trailing_zeros() as usize] = 0;
        left &= left - 1;
    }
    Some(pixels)
}

/// Decodes a block's AC coefficients into `block` (natural order); returns the positions written (a
/// bit each: never position 0), for the caller to clear.
#[inline(always)]
fn decode_ac(bits: &mut Bits, table: &Huffman, block: &mut [i16; 64]) -> Option<u64> {
    let mut k = 1;
    let mut written = 0u64;
    while k < 64 {
        bits.ensure();
        let symbol = table.decode(bits)?;
        let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
        if size != 0 {
            k += run;
            let at = usize::from(NATURAL[k]);
            block[at] = bits.receive_extend(size) as i16;
            written |= 1 << at;
        } else if run != 15 {
            break;
        } else {
            k += 15;
        }
        k += 1;
    }
    Some(written)
}

/// libjpeg's range limit after an inverse DCT: `x` is a sample less 128, taken modulo 1024 as its
/// table does (a damaged stream can overflow the IDCT; the table wraps rather than clamps there).
fn idct_limit(x: i32) -> u8 {
    match x & 1023 {
        i @ 0..=127 => (i + 128) as u8,
        128..=511 => 255,
        512..=895 => 0,
        i => (i - 896) as u8,
    }
}

/// libjpeg's 1x1 inverse DCT: the dequantized DC over 8, rounded.
#[inline(always)]
fn idct_1x1(dc: i16, quant: u16) -> u8 {
    idct_limit((i32::from(dc) * i32::from(quant as i16) + 4) >> 3)
}

/// libjpeg's 2x2 inverse DCT (jidctred.c: columns and rows 0, 1, 3, 5 and 7 of the coefficients), in
/// its 32-bit arithmetic.
///
/// `written` has a bit for each coefficient that may be nonzero (its zero tests read it).
fn idct_2x2(block: &[i16; 64], quant: &[u16; 64], written: u64) -> [[u8; 2]; 2] {
    /// Rows 1, 3, 5 and 7 of column 0.
    const ODD_ROWS: u64 = 1 << 8 | 1 << 24 | 1 << 40 | 1 << 56;
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
        if written >> col & ODD_ROWS == 0 {
            let dc = coef(col) << PASS1_BITS;
            (work[0][col], work[1][col]) = (dc, dc);
            continue;
        }
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
    let mut out = [[0u8; 2]; 2];
    for (row, w) in work.iter().enumerate() {
        if w[1] == 0 && w[3] == 0 && w[5] == 0 && w[7] == 0 {
            let value = idct_limit(descale(w[0], PASS1_BITS + 3));
            out[row] = [value, value];
            continue;
        }
        let even = w[0] << (CONST_BITS + 2);
        let odd = odd(w[7], w[5], w[3], w[1]);
        out[row] = [
            idct_limit(descale(
                even.wrapping_add(odd),
                CONST_BITS + PASS1_BITS + 3 + 2,
            )),
            idct_limit(descale(
                even.wrapping_sub(odd),
                CONST_BITS + PASS1_BITS + 3 + 2,
            )),
        ];
    }
    out
}

/// libjpeg's YCbCr to RGB (jdcolor.c: 16-bit fixed point, each term rounded as its tables round it).
#[inline(always)]
fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// libjpeg-turbo's decode at 1/8, as RGB; `None` where it fails or warns.
    fn libjpeg_turbo(bytes: &[u8]) -> Option<RgbImage> {
        super::super::libjpeg_turbo_scaled(bytes, 8).ok()
    }

    /// Decodes `bytes` both ways and asserts the same pixels.
    fn assert_as_libjpeg_turbo(name: &str, bytes: &[u8]) {
        let ours = decode(bytes).unwrap_or_else(|| panic!("{name}: not decoded"));
        let theirs = libjpeg_turbo(bytes).unwrap_or_else(|| panic!("{name}: libjpeg-turbo failed"));
        assert_eq!(ours.dimensions(), theirs.dimensions(), "{name}");
        let differ = ours
            .as_raw()
            .iter()
            .zip(theirs.as_raw())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differ,
            0,
            "{name}: {differ} of {} bytes differ",
            ours.as_raw().len()
        );
    }

    fn jpegs_in(dir: &Path) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn photos_decode_to_libjpeg_turbos_pixels() {
        // The sample photos: 4:2:0 (chroma through the 2x2 inverse DCT), 4:2:2 and 4:4:4, odd sizes.
        let paths = jpegs_in(&workspace().join("sample_images"));
        assert!(paths.len() >= 20, "{} sample JPEGs", paths.len());
        for path in paths {
            assert_as_libjpeg_turbo(&path.display().to_string(), &std::fs::read(&path).unwrap());
        }
    }

    #[test]
    fn restart_markers_and_grayscale_decode_to_libjpeg_turbos_pixels() {
        let dir = workspace().join("tests/fixtures/jpeg");
        for name in [
            "restart-420.jpg",
            "restart-444-rows.jpg",
            "restart-gray.jpg",
        ] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert!(
                bytes.windows(2).any(|w| w == [0xFF, 0xD1]),
                "{name} has restart markers"
            );
            assert_as_libjpeg_turbo(name, &bytes);
        }
        // Progressive: left to libjpeg-turbo.
        assert!(decode(&std::fs::read(dir.join("progressive.jpg")).unwrap()).is_none());
    }

    /// A deterministic image with edges, gradients and noise, so every coefficient size occurs.
    fn synthetic(width: usize, height: usize, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        let mut pixels = Vec::with_capacity(3 * width * height);
        for y in 0..height {
            for x in 0..width {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = (state % 64) as usize;
                let edge = if (x / 5 + y / 3) % 2 == 0 { 200 } else { 20 };
                pixels.push(((x * 255 / width.max(1) + noise) % 256) as u8);
                pixels.push(((edge + noise / 2) % 256) as u8);
                pixels.push(((y * 255 / height.max(1) + 2 * noise) % 256) as u8);
            }
        }
        pixels
    }

    #[test]
    fn every_subsampling_size_and_quality_decodes_to_libjpeg_turbos_pixels() {
        use turbojpeg::Subsamp;
        let sizes = [(1, 1), (7, 9), (8, 8), (17, 33), (100, 75), (257, 129)];
        let subsamplings = [
            Subsamp::None,
            Subsamp::Sub2x1,
            Subsamp::Sub2x2,
            Subsamp::Gray,
            Subsamp::Sub1x2,
            Subsamp::Sub4x1,
        ];
        for (i, &(width, height)) in sizes.iter().enumerate() {
            let pixels = synthetic(width, height, i as u32 + 1);
            for subsampling in subsamplings {
                for quality in [30, 90, 100] {
                    let image = turbojpeg::Image {
                        pixels: pixels.as_slice(),
                        width,
                        pitch: 3 * width,
                        height,
                        format: turbojpeg::PixelFormat::RGB,
                    };
                    let jpeg = turbojpeg::compress(image, quality, subsampling).unwrap();
                    assert_as_libjpeg_turbo(
                        &format!("{width}x{height} {subsampling:?} q{quality}"),
                        &jpeg,
                    );
                }
            }
        }
    }

    #[test]
    fn a_damaged_stream_gives_libjpeg_turbos_pixels_or_none() {
        // Truncated anywhere, or a byte of the entropy-coded data changed: either this decoder declines
        // (and libjpeg-turbo takes the file) or the stream still decodes cleanly and both agree.
        let bytes = std::fs::read(workspace().join("sample_images/baboon.jpg")).unwrap();
        let scan = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap() + 20;
        let mut declined = 0;
        for cut in (scan..bytes.len()).step_by(bytes.len() / 40) {
            assert!(decode(&bytes[..cut]).is_none(), "truncated at {cut}");
        }
        let mut state = 7u32;
        for _ in 0..60 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let at = scan + (state as usize >> 8) % (bytes.len() - scan - 2);
            let mut damaged = bytes.clone();
            damaged[at] ^= 1 << (state % 8);
            match decode(&damaged) {
                None => declined += 1,
                Some(ours) => {
                    let theirs =
                        libjpeg_turbo(&damaged).expect("decoded here, refused by libjpeg-turbo");
                    assert_eq!(ours.as_raw(), theirs.as_raw(), "byte {at} changed");
                }
            }
        }
        assert!(declined > 0, "some damage is noticed");
    }

    #[test]
    fn skip_entries_take_several_coefficients_and_stop_at_the_end_of_block() {
        // The standard luminance AC table (JPEG Annex K.3.3.2): EOB is 1010, 0x01 is 00, 0x02 is 01.
        let counts = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
        let mut symbols = vec![
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51,
            0x61, 0x07,
        ];
        symbols.resize(162, 0x22);
        symbols.truncate(counts.iter().map(|&c| usize::from(c)).sum());
        let table = Huffman::new(&counts, &symbols, false).unwrap();
        // "00 1" (0x01: code 00, one magnitude bit), "01 10" (0x02), "1010" (EOB), then 0 padding.
        let prefix = 0b001_0110_1010 << (LOOKAHEAD - 11);
        let entry = table.skip[prefix];
        assert_eq!(entry.bits(), 11, "bits of all three");
        assert_eq!(entry.advance(), 2, "two coefficients");
        assert!(entry.ends(), "ends the block");
        assert_eq!(entry.before_last(), 2, "the ones before the last move two");
        let first = entry.first();
        assert_eq!(
            (
                first.bits(),
                first.advance(),
                first.ends(),
                first.before_last()
            ),
            (3, 1, false, 0),
            "the first alone"
        );
    }
}
