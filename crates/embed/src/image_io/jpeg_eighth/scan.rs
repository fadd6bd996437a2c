//! The scan decoded into planes at 1/8, and the planes as RGB.

use super::bits::{marker_at, unstuff, Bits};
use super::coefficients::{decode_2x2, decode_dc, skip_ac};
use super::header::Header;
use super::huffman::Huffman;
use super::idct::{idct_1x1, weights_2x2, ycc_to_rgb};
use image::RgbImage;

impl Header {
    /// Decodes the scan at `start` into one plane per component, `blocks_w * scale` pixels across.
    pub(super) fn decode_scan(&self, bytes: &[u8], start: usize) -> Option<Vec<Vec<u8>>> {
        struct Coding<'h> {
            dc: &'h Huffman,
            ac: &'h Huffman,
            dc_quant: u16,
            /// The weights of a component decoded at 2x2.
            weights: [i32; 80],
        }
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
                for (index, component) in self.components.iter().enumerate() {
                    let Coding {
                        dc,
                        ac,
                        dc_quant,
                        ref weights,
                    } = coding[index];
                    let plane = &mut planes[index];
                    let stride = component.blocks_w * component.scale;
                    for by in 0..component.v {
                        for bx in 0..component.h {
                            let (x, y) = (mcu_x * component.h + bx, mcu_y * component.v + by);
                            let dc_value = decode_dc(&mut bits, dc, &mut predictors[index])?;
                            if component.scale == 1 {
                                skip_ac(&mut bits, ac)?;
                                plane[y * stride + x] = idct_1x1(dc_value, dc_quant);
                            } else {
                                let pixels = decode_2x2(&mut bits, ac, weights, dc_value)?;
                                let at = 2 * y * stride + 2 * x;
                                plane[at..at + 2].copy_from_slice(&pixels[0]);
                                plane[at + stride..at + stride + 2].copy_from_slice(&pixels[1]);
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
