//! The clustered synthetic data set: Gaussian blobs around random centres, reproducible from a seed.

use rand::{rngs::StdRng, Rng, SeedableRng};

/// A clustered synthetic data set, as data: `clusters` centres drawn uniformly in `[-1, 1)` per component,
/// then `n` base vectors and `queries` query vectors, each a uniformly chosen centre plus Gaussian noise of
/// standard deviation `sigma` per component. The same spec gives the same vectors on every run
/// ([`StdRng`] seeded with `seed`); base and queries share the centres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusteredSpec {
    /// Base vectors.
    pub n: usize,
    /// Query vectors, drawn after the base.
    pub queries: usize,
    /// Dimension.
    pub dim: usize,
    /// Cluster centres (0 is taken as 1).
    pub clusters: usize,
    /// Standard deviation of the noise around a centre, per component (the centres' own spread is
    /// `1/sqrt(3)` = 0.577).
    pub sigma: f32,
    /// Seed of the random generator.
    pub seed: u64,
}

impl Default for ClusteredSpec {
    /// 20,000 base vectors and 300 queries of dimension 128 around 100 centres, sigma 0.2, seed 1.
    fn default() -> Self {
        Self {
            n: 20_000,
            queries: 300,
            dim: 128,
            clusters: 100,
            sigma: 0.2,
            seed: 1,
        }
    }
}

/// Vectors generated from a [`ClusteredSpec`], row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustered {
    /// `n * dim` values.
    pub base: Vec<f32>,
    /// `queries * dim` values.
    pub queries: Vec<f32>,
}

impl ClusteredSpec {
    /// Draws the centres, then the base vectors, then the queries, from one seeded stream.
    pub fn generate(&self) -> Clustered {
        self.generate_labelled().0
    }

    /// [`ClusteredSpec::generate`], with the cluster (centre number, `0..clusters`) each base vector was
    /// drawn around: the same vectors, and one label per base row.
    pub fn generate_labelled(&self) -> (Clustered, Vec<usize>) {
        let (dim, clusters) = (self.dim, self.clusters.max(1));
        let mut rng = StdRng::seed_from_u64(self.seed);
        let centres: Vec<f32> = (0..clusters * dim)
            .map(|_| rng.gen_range(-1.0f32..1.0))
            .collect();
        let mut base = Vec::with_capacity((self.n + self.queries) * dim);
        let mut labels = Vec::with_capacity(self.n + self.queries);
        for _ in 0..self.n + self.queries {
            let c = rng.gen_range(0..clusters);
            labels.push(c);
            for j in 0..dim {
                // Box-Muller normal sample.
                let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
                let u2: f32 = rng.gen_range(0.0f32..1.0);
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos();
                base.push(centres[c * dim + j] + self.sigma * z);
            }
        }
        let queries = base.split_off(self.n * dim);
        labels.truncate(self.n);
        (Clustered { base, queries }, labels)
    }
}
