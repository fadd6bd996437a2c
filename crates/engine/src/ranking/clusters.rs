//! Clusters of unit vectors for recommendations: spherical k-means (k-means++ seeding, a fixed seed, so
//! the same vectors give the same clusters) and each cluster's medoid (the member closest to its
//! centroid: a real image that stands for the cluster). Written here rather than taken from FAISS, whose
//! k-means lives behind the index crate: the engine clusters at most [`MAX_POINTS`] vectors a few dozen
//! ways, which this does in well under a second.

use rand::{Rng, SeedableRng};

/// Most vectors clustered; a larger set is sampled evenly down to this.
pub const MAX_POINTS: usize = 20_000;
/// Rounds of assignment and update.
const ROUNDS: usize = 20;

/// A cluster: its members (indices into the vectors given) and the medoid among them.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub medoid: usize,
    pub members: Vec<usize>,
}

/// `k` clusters of the unit vectors `vectors` (fewer when there are fewer vectors), largest first.
pub fn clusters(vectors: &[&[f32]], k: usize) -> Vec<Cluster> {
    let n = vectors.len();
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(MAX_POINTS).max(1);
    let sample: Vec<usize> = (0..n).step_by(step).collect();
    let k = k.min(sample.len());
    let dim = vectors[0].len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    // k-means++ seeding on the cosine distance.
    let mut centroids: Vec<Vec<f32>> =
        vec![vectors[sample[rng.gen_range(0..sample.len())]].to_vec()];
    let mut nearest: Vec<f32> = sample
        .iter()
        .map(|&i| distance(vectors[i], &centroids[0]))
        .collect();
    while centroids.len() < k {
        let total: f32 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut at = rng.gen_range(0.0..total);
            let mut chosen = nearest.len() - 1;
            for (j, d) in nearest.iter().enumerate() {
                if at < *d {
                    chosen = j;
                    break;
                }
                at -= d;
            }
            chosen
        } else {
            // Every vector is a copy of a centroid: more clusters would be empty.
            break;
        };
        let c = vectors[sample[pick]].to_vec();
        for (j, &i) in sample.iter().enumerate() {
            nearest[j] = nearest[j].min(distance(vectors[i], &c));
        }
        centroids.push(c);
    }
    let mut assignment = vec![0usize; n];
    for _ in 0..ROUNDS {
        for (i, v) in vectors.iter().enumerate() {
            assignment[i] = closest(v, &centroids);
        }
        let mut sums = vec![vec![0.0f32; dim]; centroids.len()];
        for (i, v) in vectors.iter().enumerate() {
            for (s, x) in sums[assignment[i]].iter_mut().zip(v.iter()) {
                *s += x;
            }
        }
        for (c, mut s) in centroids.iter_mut().zip(sums) {
            let norm = s.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                s.iter_mut().for_each(|x| *x /= norm);
                *c = s;
            }
        }
    }
    let mut out: Vec<Cluster> = centroids
        .iter()
        .enumerate()
        .filter_map(|(c, centroid)| {
            let members: Vec<usize> = (0..n).filter(|&i| assignment[i] == c).collect();
            let medoid = *members.iter().min_by(|&&a, &&b| {
                distance(vectors[a], centroid)
                    .total_cmp(&distance(vectors[b], centroid))
                    .then(a.cmp(&b))
            })?;
            Some(Cluster { medoid, members })
        })
        .collect();
    out.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.medoid.cmp(&b.medoid))
    });
    out
}

/// The cosine distance of unit vectors.
fn distance(a: &[f32], b: &[f32]) -> f32 {
    (1.0 - vsearch_core::vector::dot(a, b)).max(0.0)
}

/// The index of the centroid closest to `v`.
fn closest(v: &[f32], centroids: &[Vec<f32>]) -> usize {
    let mut best = (0, f32::INFINITY);
    for (c, centroid) in centroids.iter().enumerate() {
        let d = distance(v, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best.0
}

/// Groups of the unit vectors `vectors` whose cosine to the group's first member reaches `min_cosine`,
/// in order (a board's few examples: which of them show one thing).
pub fn greedy_groups(vectors: &[&[f32]], min_cosine: f32) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|g| vsearch_core::vector::dot(vectors[g[0]], v) >= min_cosine)
        {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_obvious_clusters_and_their_medoids() {
        let raw = [
            [1.0f32, 0.0],
            [0.98, 0.199],
            [0.995, 0.0998],
            [0.0, 1.0],
            [0.0998, 0.995],
        ];
        let vectors: Vec<&[f32]> = raw.iter().map(|v| &v[..]).collect();
        let c = clusters(&vectors, 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].members, vec![0, 1, 2]);
        assert_eq!(c[0].medoid, 2);
        assert_eq!(c[1].members, vec![3, 4]);
        assert_eq!(
            greedy_groups(&vectors, 0.9),
            vec![vec![0, 1, 2], vec![3, 4]]
        );
    }
}
