//! hnsw_rs's dump files, read without hnsw_rs: checked before hnsw_rs's loader reads them, and read
//! straight into the compact search layout when only searches will run.
//!
//! hnsw_rs's loader trusts its files: on a malformed one it panics, calls `process::exit`, or copies a
//! vector of `dimension` values out of a shorter buffer. The files are checksummed, so only a file
//! altered together with its checksum (or written by another hnsw_rs version) gets here; [`read`] walks
//! the layout hnsw_rs 0.3 writes (description format 4, full dump mode) and refuses anything its loader
//! could not read safely: bad magics, counts past the end of the file, points out of order, neighbours
//! or the entry point naming no point, vectors of another length, data records out of step with the
//! graph. What it reads is the graph as hnsw_rs's loader would hold it: the points layer by layer in
//! rank order, each with its neighbours' slots per layer, and each point's vector.

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

/// One point of a dump: its slot (hnsw_rs's data id), its top layer, and its neighbours' slots on each
/// layer `0..=level` (in the dump's order, which is the order hnsw_rs's loader keeps).
pub(crate) struct DumpedPoint {
    pub slot: usize,
    pub level: usize,
    pub layers: Vec<Vec<u32>>,
}

/// The graph of a dump: its points layer by layer in rank order, and their vectors in the data file.
pub(crate) struct Dump<'a> {
    pub points: Vec<DumpedPoint>,
    vectors: DumpVectors<'a>,
}

/// The vectors of a dump's points, in the data file's bytes.
pub(crate) struct DumpVectors<'a> {
    data: &'a [u8],
    /// Where the vector of the `i`-th point starts in `data`.
    at: Vec<usize>,
}

impl<'a> Dump<'a> {
    /// The points, and their vectors apart.
    pub fn into_parts(self) -> (Vec<DumpedPoint>, DumpVectors<'a>) {
        (self.points, self.vectors)
    }
}

impl DumpVectors<'_> {
    /// Copies the vector of the `i`-th point (native-endian `f32`, as hnsw_rs writes them) into `out`,
    /// whose length is the dimension [`read`] checked.
    pub fn copy(&self, i: usize, out: &mut [f32]) {
        let bytes = &self.data[self.at[i]..self.at[i] + out.len() * 4];
        for (v, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
}

/// Reads graph and data files, refusing any that hnsw_rs's loader could not read safely, for an index
/// of vectors of `dim` values in `slots` slots.
pub(crate) fn read<'a>(
    graph: &[u8],
    data: &'a [u8],
    dim: usize,
    slots: usize,
) -> Result<Dump<'a>, String> {
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
    // Neighbours are named by (layer, rank) as hnsw_rs's loader resolves them; resolved to slots below.
    let mut points_per_layer: Vec<usize> = Vec::with_capacity(layers as usize);
    let mut points: Vec<DumpedPoint> = Vec::with_capacity(slots);
    // Every point's neighbour lists, one after another, and where each point's lists start and their
    // lengths (one per layer hnsw_rs keeps).
    let mut named: Vec<(u8, i32)> = Vec::new();
    let mut lists_of: Vec<(usize, [u32; NB_LAYER_MAX as usize])> = Vec::with_capacity(slots);
    for layer in 0..layers {
        g.expect_magic(MAGIC_LAYER, "layer")?;
        let count = g.usize()?;
        if count > g.remaining() / POINT_BYTES || points.len() + count > nb_point {
            return Err(format!("graph file: layer {layer} claims {count} points"));
        }
        for rank in 0..count {
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
            let mut counts = [0u32; NB_LAYER_MAX as usize];
            let start = named.len();
            for count_of_list in &mut counts {
                let count = g.usize()?;
                if count > g.remaining() / NEIGHBOUR_BYTES {
                    return Err(format!("graph file: {count} neighbours"));
                }
                *count_of_list =
                    u32::try_from(count).map_err(|_| format!("graph file: {count} neighbours"))?;
                for _ in 0..count {
                    if g.usize()? >= slots {
                        return Err("graph file: a neighbour beyond the slots".into());
                    }
                    named.push((g.u8()?, g.i32()?));
                    g.skip(4)?;
                }
            }
            points.push(DumpedPoint {
                slot: origin,
                level: usize::from(layer),
                layers: Vec::new(),
            });
            lists_of.push((start, counts));
        }
        points_per_layer.push(count);
    }
    if points.len() != nb_point {
        return Err(format!(
            "graph file: {} points, the description says {nb_point}",
            points.len()
        ));
    }
    // The index in `points` of the point at (layer, rank), if one is there.
    let layer_start: Vec<usize> = points_per_layer
        .iter()
        .scan(0, |start, &n| {
            let this = *start;
            *start += n;
            Some(this)
        })
        .collect();
    let point_at = |(layer, rank): (u8, i32)| -> Option<usize> {
        let n = *points_per_layer.get(layer as usize)?;
        let rank = usize::try_from(rank).ok().filter(|&r| r < n)?;
        Some(layer_start[layer as usize] + rank)
    };
    for (i, &(start, counts)) in lists_of.iter().enumerate() {
        let level = points[i].level;
        let mut layers = Vec::with_capacity(level + 1);
        // Every list must name points (hnsw_rs's loader resolves them all); those above the point's
        // own layer are not part of its neighbourhood.
        let mut at_list = start;
        for (list_layer, &count) in counts.iter().enumerate() {
            let list = &named[at_list..at_list + count as usize];
            at_list += count as usize;
            let mut slots_of = Vec::with_capacity(if list_layer <= level { list.len() } else { 0 });
            for &neighbour in list {
                let Some(at) = point_at(neighbour) else {
                    let (layer, rank) = neighbour;
                    return Err(format!(
                        "graph file: a neighbour ({layer}, {rank}) names no point"
                    ));
                };
                if list_layer <= level {
                    slots_of.push(points[at].slot as u32);
                }
            }
            if list_layer <= level {
                layers.push(slots_of);
            }
        }
        points[i].layers = layers;
    }
    drop((named, lists_of));
    // The entry point.
    if nb_point > 0 {
        if g.usize()? >= slots {
            return Err("graph file: entry point beyond the slots".into());
        }
        let entry = (g.u8()?, g.i32()?);
        if point_at(entry).is_none() {
            return Err(format!("graph file: entry point {entry:?} names no point"));
        }
    }

    // The data file: the dimension, then one record per point in the graph's order.
    let mut d = Cursor::new(data, "data file");
    d.expect_magic(MAGIC_DATA, "data")?;
    if d.usize()? != dim {
        return Err("data file: another dimension".into());
    }
    let mut at = Vec::with_capacity(points.len());
    for point in &points {
        let origin = point.slot;
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
        at.push(d.at);
        d.skip(dim * 4)?;
    }
    Ok(Dump {
        points,
        vectors: DumpVectors { data, at },
    })
}
