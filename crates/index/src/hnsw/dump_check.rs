//! Checks hnsw_rs's dump files before hnsw_rs reads them.
//!
//! hnsw_rs's loader trusts its files: on a malformed one it panics, calls `process::exit`, or copies a
//! vector of `dimension` values out of a shorter buffer. The files are checksummed, so only a file
//! altered together with its checksum (or written by another hnsw_rs version) gets here; [`check`] walks
//! the layout hnsw_rs 0.3 writes (description format 4, full dump mode) and refuses anything its loader
//! could not read safely: bad magics, counts past the end of the file, points out of order, neighbours
//! or the entry point naming no point, vectors of another length, data records out of step with the
//! graph.

/// hnsw_rs's layer count and magics (`hnswio.rs`).
const NB_LAYER_MAX: u8 = 16;
const MAGIC_DESCRIPTION: u32 = 0x002a_6779;
const MAGIC_LAYER: u32 = 0x000a_676f;
const MAGIC_POINT: u32 = 0x000a_678f;
const MAGIC_DATA: u32 = 0xa67f_0000;
/// Full dump mode: neighbours carry their layer and rank, which the loader needs.
const DUMP_FULL: u8 = 1;
/// Bytes of one neighbour record: data id, layer, rank, distance.
const NEIGHBOUR_BYTES: usize = 8 + 1 + 4 + 4;
/// Bytes of a point record with no neighbours: magic, data id, layer, rank, a count per layer.
const POINT_BYTES: usize = 4 + 8 + 1 + 4 + 8 * NB_LAYER_MAX as usize;

/// Native-endian reader over a byte slice that fails instead of reading past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    file: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], file: &'static str) -> Self {
        Self { bytes, at: 0, file }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.at.checked_add(N).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("{} ends at byte {}", self.file, self.bytes.len()));
        };
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.at..end]);
        self.at = end;
        Ok(out)
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        match self.at.checked_add(n).filter(|&e| e <= self.bytes.len()) {
            Some(end) => {
                self.at = end;
                Ok(())
            }
            None => Err(format!("{} ends at byte {}", self.file, self.bytes.len())),
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_ne_bytes(self.take()?))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_ne_bytes(self.take()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_ne_bytes(self.take()?))
    }

    fn usize(&mut self) -> Result<usize, String> {
        usize::try_from(self.u64()?).map_err(|_| format!("{}: a count beyond usize", self.file))
    }

    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_ne_bytes(self.take()?))
    }

    /// A length-prefixed UTF-8 name of at most 256 bytes.
    fn name(&mut self) -> Result<String, String> {
        let len = self.usize()?;
        if len > 256 {
            return Err(format!("{}: a name of {len} bytes", self.file));
        }
        let start = self.at;
        self.skip(len)?;
        String::from_utf8(self.bytes[start..self.at].to_vec())
            .map_err(|_| format!("{}: a name that is not UTF-8", self.file))
    }

    fn expect_magic(&mut self, magic: u32, what: &str) -> Result<(), String> {
        let got = self.u32()?;
        if got != magic {
            return Err(format!(
                "{}: bad {what} magic {got:#x} at byte {}",
                self.file,
                self.at - 4
            ));
        }
        Ok(())
    }
}

/// Refuses graph and data files that hnsw_rs's loader could not read safely, for an index of vectors of
/// `dim` values in `slots` slots.
pub(crate) fn check(graph: &[u8], data: &[u8], dim: usize, slots: usize) -> Result<(), String> {
    let mut g = Cursor::new(graph, "graph file");
    // The description.
    g.expect_magic(MAGIC_DESCRIPTION, "description")?;
    if g.u8()? != DUMP_FULL {
        return Err("graph file: not a full dump".into());
    }
    if g.u8()? == 0 {
        return Err("graph file: no connections per node".into());
    }
    let level_scale = g.f64()?;
    if !(level_scale.is_finite() && level_scale > 0.0) {
        return Err(format!("graph file: level scale {level_scale}"));
    }
    if g.u8()? != NB_LAYER_MAX {
        return Err("graph file: another layer count".into());
    }
    let _ef = g.usize()?;
    let nb_point = g.usize()?;
    let dimension = g.usize()?;
    if nb_point != slots || dimension != dim {
        return Err(format!(
            "graph file: {nb_point} points of dimension {dimension}, the index has {slots} of {dim}"
        ));
    }
    let _distance = g.name()?;
    let type_name = g.name()?;
    if type_name != std::any::type_name::<f32>() {
        return Err(format!("graph file: vectors of {type_name}"));
    }

    // The layers: points in rank order, each with its neighbours on every layer.
    let layers = g.u8()?;
    if layers > NB_LAYER_MAX {
        return Err(format!("graph file: {layers} layers"));
    }
    let mut points_per_layer = Vec::with_capacity(layers as usize);
    let mut origins = Vec::with_capacity(slots);
    let mut neighbours: Vec<(u8, i32)> = Vec::new();
    for layer in 0..layers {
        g.expect_magic(MAGIC_LAYER, "layer")?;
        let points = g.usize()?;
        if points > g.remaining() / POINT_BYTES || origins.len() + points > nb_point {
            return Err(format!("graph file: layer {layer} claims {points} points"));
        }
        for rank in 0..points {
            g.expect_magic(MAGIC_POINT, "point")?;
            let origin = g.usize()?;
            if origin >= slots {
                return Err(format!("graph file: point of slot {origin}"));
            }
            let (l, r) = (g.u8()?, g.i32()?);
            if l != layer || usize::try_from(r).ok() != Some(rank) {
                return Err(format!(
                    "graph file: point ({l}, {r}) where ({layer}, {rank}) belongs"
                ));
            }
            for _ in 0..NB_LAYER_MAX {
                let count = g.usize()?;
                if count > g.remaining() / NEIGHBOUR_BYTES {
                    return Err(format!("graph file: {count} neighbours"));
                }
                for _ in 0..count {
                    if g.usize()? >= slots {
                        return Err("graph file: a neighbour beyond the slots".into());
                    }
                    neighbours.push((g.u8()?, g.i32()?));
                    g.skip(4)?;
                }
            }
            origins.push(origin);
        }
        points_per_layer.push(points);
    }
    if origins.len() != nb_point {
        return Err(format!(
            "graph file: {} points, the description says {nb_point}",
            origins.len()
        ));
    }
    let names_a_point = |(layer, rank): (u8, i32)| {
        points_per_layer
            .get(layer as usize)
            .is_some_and(|&n| usize::try_from(rank).is_ok_and(|r| r < n))
    };
    if let Some(&(layer, rank)) = neighbours.iter().find(|&&n| !names_a_point(n)) {
        return Err(format!(
            "graph file: a neighbour ({layer}, {rank}) names no point"
        ));
    }
    // The entry point.
    if nb_point > 0 {
        if g.usize()? >= slots {
            return Err("graph file: entry point beyond the slots".into());
        }
        let entry = (g.u8()?, g.i32()?);
        if !names_a_point(entry) {
            return Err(format!("graph file: entry point {entry:?} names no point"));
        }
    }

    // The data file: the dimension, then one record per point in the graph's order.
    let mut d = Cursor::new(data, "data file");
    d.expect_magic(MAGIC_DATA, "data")?;
    if d.usize()? != dim {
        return Err("data file: another dimension".into());
    }
    for &origin in &origins {
        d.expect_magic(MAGIC_DATA, "vector")?;
        if d.u64()? != origin as u64 {
            return Err(format!(
                "data file: out of step with the graph at slot {origin}"
            ));
        }
        if d.u64()? != (dim * 4) as u64 {
            return Err(format!(
                "data file: slot {origin} has a vector of another length"
            ));
        }
        d.skip(dim * 4)?;
    }
    Ok(())
}
