//! The markers before the scan: frame, tables, restart interval and the scan's header.

use super::huffman::Huffman;
use super::idct::NATURAL;

/// A frame component as the scan decodes it.
pub(super) struct Component {
    id: u8,
    pub(super) h: usize,
    pub(super) v: usize,
    pub(super) quant: usize,
    pub(super) dc: usize,
    pub(super) ac: usize,
    /// Pixels a block gives at 1/8 scale: 1, or 2 where libjpeg-turbo scales this component's inverse DCT
    /// instead of upsampling it.
    pub(super) scale: usize,
    /// Blocks across and down that the scan codes for this component.
    pub(super) blocks_w: usize,
    pub(super) blocks_h: usize,
}

/// Everything before the entropy-coded data that decoding needs.
pub(super) struct Header {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) components: Vec<Component>,
    pub(super) h_max: usize,
    pub(super) v_max: usize,
    /// Quantization tables in natural order.
    pub(super) quant: [[u16; 64]; 4],
    /// DC tables 0-3, then AC tables 0-3.
    pub(super) huffman: [Option<Huffman>; 8],
    pub(super) restart_interval: usize,
}

/// A big-endian u16 at `at`.
fn be16(bytes: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(*bytes.get(at)?) << 8 | usize::from(*bytes.get(at + 1)?))
}

impl Header {
    /// Reads the markers up to the first scan; returns the header and where the scan's data starts.
    pub(super) fn read(bytes: &[u8]) -> Option<(Header, usize)> {
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
}
