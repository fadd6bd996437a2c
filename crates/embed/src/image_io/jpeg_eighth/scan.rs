//! The scan decoded into planes at 1/8, and the planes as RGB.

use super::bits::{marker_at, unstuff, Bits};
use super::coefficients::{decode_2x2, decode_dc, skip_ac};
use super::header::Header;
use super::huffman::Huffman;
use super::idct::{idct_1x1, weights_2x2, ycc_to_rgb};
use image::RgbImage;

/// What decoding a component's blocks takes.
struct Coding<'h> {
    dc: &'h Huffman,
    ac: &'h Huffman,
    dc_quant: u16,
    /// The weights of a component decoded at 2x2.
    weights: [i32; 80],
}

/// Decodes the block at (`x`, `y`) (in blocks) of a component into its plane (`stride` pixels across): one
/// pixel, or 2x2 where `TWO_BY_TWO` (a component libjpeg-turbo decodes at 2x2 at this scale).
#[inline(always)]
fn decode_block<const TWO_BY_TWO: bool>(
    bits: &mut Bits,
    coding: &Coding,
    predictor: &mut i32,
    plane: &mut [u8],
    stride: usize,
    (x, y): (usize, usize),
) -> Option<()> {
    let dc = decode_dc(bits, coding.dc, predictor)?;
    if TWO_BY_TWO {
        let pixels = decode_2x2(bits, coding.ac, &coding.weights, dc)?;
        let at = 2 * y * stride + 2 * x;
        plane.get_mut(at..at + 2)?.copy_from_slice(&pixels[0]);
        plane
            .get_mut(at + stride..at + stride + 2)?
            .copy_from_slice(&pixels[1]);
    } else {
        skip_ac(bits, coding.ac)?;
        *plane.get_mut(y * stride + x)? = idct_1x1(dc, coding.dc_quant);
    }
    Some(())
}

impl Header {
    /// Decodes the scan at `start` into one plane per component, `blocks_w * scale` pixels across.
    pub(super) fn decode_scan(&self, bytes: &[u8], start: usize) -> Option<Vec<Vec<u8>>> {
        let coding = self
            .components
            .iter()
            .map(|c| {
                Some(Coding {
                    dc: self.huffman[c.dc].as_ref()?,
                    ac: self.huffman[c.ac].as_ref()?,
                    dc_quant: self.quant[c.quant][0],
                    weights: weights_2x2(&self.quant[c.quant]),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let mut planes: Vec<Vec<u8>> = self
            .components
            .iter()
            .map(|c| vec![0u8; c.blocks_w * c.scale * c.blocks_h * c.scale])
            .collect();
        let mut predictors = vec![0i32; self.components.len()];
        let mut segment = Vec::new();
        let mut marker = unstuff(bytes, start, &mut segment);
        let mut bits = Bits::new(&segment);
        let (mcus_x, mcus_y) = if self.components.len() == 1 {
            (self.components[0].blocks_w, self.components[0].blocks_h)
        } else {
            (
                self.width.div_ceil(8 * self.h_max),
                self.height.div_ceil(8 * self.v_max),
            )
        };
        let strides: Vec<usize> = self
            .components
            .iter()
            .map(|c| c.blocks_w * c.scale)
            .collect();
        let camera_420 = matches!(
            self.components.as_slice(),
            [y, cb, cr] if (y.h, y.v, y.scale) == (2, 2, 1)
                && [cb, cr].iter().all(|c| (c.h, c.v, c.scale) == (1, 1, 2))
        );
        let (mut in_interval, mut next_restart) = (0usize, 0u8);
        for mcu_y in 0..mcus_y {
            for mcu_x in 0..mcus_x {
                if self.restart_interval > 0 && in_interval == self.restart_interval {
                    if !bits.at_end() {
                        return None;
                    }
                    let after = marker_at(bytes, marker, 0xD0 + next_restart)?;
                    marker = unstuff(bytes, after, &mut segment);
                    bits = Bits::new(&segment);
                    next_restart = (next_restart + 1) & 7;
                    in_interval = 0;
                    predictors.iter_mut().for_each(|p| *p = 0);
                }
                in_interval += 1;
                if camera_420 {
                    // Written out for 4:2:0 as cameras write it: four luma blocks, then each chroma's.
                    let (x, y) = (2 * mcu_x, 2 * mcu_y);
                    for at in [(x, y), (x + 1, y), (x, y + 1), (x + 1, y + 1)] {
                        let (coding, predictor) = (&coding[0], &mut predictors[0]);
                        let (plane, stride) = (&mut planes[0], strides[0]);
                        decode_block::<false>(&mut bits, coding, predictor, plane, stride, at)?;
                    }
                    // Each chroma block by its own call (a loop over the two measured slower).
                    let at = (mcu_x, mcu_y);
                    let (coding_cb, predictor) = (&coding[1], &mut predictors[1]);
                    let (plane, stride) = (&mut planes[1], strides[1]);
                    decode_block::<true>(&mut bits, coding_cb, predictor, plane, stride, at)?;
                    let (coding_cr, predictor) = (&coding[2], &mut predictors[2]);
                    let (plane, stride) = (&mut planes[2], strides[2]);
                    decode_block::<true>(&mut bits, coding_cr, predictor, plane, stride, at)?;
                    continue;
                }
                for (index, component) in self.components.iter().enumerate() {
                    let (plane, stride) = (&mut planes[index], strides[index]);
                    for by in 0..component.v {
                        for bx in 0..component.h {
                            let at = (mcu_x * component.h + bx, mcu_y * component.v + by);
                            let (coding, predictor) = (&coding[index], &mut predictors[index]);
                            if component.scale == 1 {
                                decode_block::<false>(
                                    &mut bits, coding, predictor, plane, stride, at,
                                )?;
                            } else {
                                decode_block::<true>(
                                    &mut bits, coding, predictor, plane, stride, at,
                                )?;
                            }
                        }
                    }
                }
            }
        }
        (bits.at_end() && marker_at(bytes, marker, 0xD9).is_some()).then_some(planes)
    }

    /// The planes upsampled by replication (libjpeg-turbo's at 1/8 scale) and converted to RGB.
    pub(super) fn to_rgb(&self, planes: &[Vec<u8>]) -> Option<RgbImage> {
        let (width, height) = (self.width.div_ceil(8), self.height.div_ceil(8));
        // For each component: its plane's stride and its columns' and rows' expansion.
        let layout: Vec<(usize, usize, usize)> = self
            .components
            .iter()
            .map(|c| {
                (
                    c.blocks_w * c.scale,
                    self.h_max / (c.h * c.scale),
                    self.v_max / (c.v * c.scale),
                )
            })
            .collect();
        // A row of each component at the image's width: the plane's own where its columns are not
        // expanded (4:2:0 at this scale: chroma comes out of the 2x2 inverse DCT at luma's size), else
        // expanded into `expanded`.
        let mut expanded = vec![Vec::new(); planes.len()];
        let mut rgb = vec![0u8; 3 * width * height];
        for (y, out) in rgb.chunks_exact_mut(3 * width).enumerate() {
            for ((&(stride, h_expand, v_expand), plane), row) in
                layout.iter().zip(planes).zip(&mut expanded)
            {
                if h_expand != 1 {
                    let from = y / v_expand * stride;
                    let source = plane.get(from..from + stride)?;
                    row.clear();
                    for x in 0..width {
                        row.push(*source.get(x / h_expand)?);
                    }
                }
            }
            let row = |index: usize| -> Option<&[u8]> {
                let (stride, h_expand, v_expand) = layout[index];
                if h_expand != 1 {
                    return Some(&expanded[index]);
                }
                let from = y / v_expand * stride;
                planes[index].get(from..from + width)
            };
            let luma = row(0)?;
            if self.components.len() == 1 {
                for (pixel, &l) in out.chunks_exact_mut(3).zip(luma) {
                    pixel.fill(l);
                }
            } else {
                let (cb, cr) = (row(1)?, row(2)?);
                for (((pixel, &l), &b), &r) in out.chunks_exact_mut(3).zip(luma).zip(cb).zip(cr) {
                    pixel.copy_from_slice(&ycc_to_rgb(l, b, r));
                }
            }
        }
        RgbImage::from_raw(u32::try_from(width).ok()?, u32::try_from(height).ok()?, rgb)
    }
}
