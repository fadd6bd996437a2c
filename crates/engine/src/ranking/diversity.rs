//! Diversity by maximal marginal relevance (Carbonell and Goldstein, 1998): results are picked one at a
//! time, each the candidate with the best `(1 - w) x relevance - w x (its highest cosine similarity to
//! those picked before)`. The first pick is the most relevant candidate, so the best result stays first;
//! `w = 0` keeps the order of relevance.

/// The order maximal marginal relevance picks `relevance.len()` items in, with weight `weight`
/// (0 to 1). `vectors[i]` is item `i`'s unit vector (`None`: unknown, similar to nothing). Ties go to the
/// earlier item.
pub fn mmr(relevance: &[f32], vectors: &[Option<&[f32]>], weight: f32) -> Vec<usize> {
    let n = relevance.len();
    let mut order = Vec::with_capacity(n);
    let mut picked = vec![false; n];
    // Each item's highest similarity to the items picked so far.
    let mut nearest = vec![f32::NEG_INFINITY; n];
    for _ in 0..n {
        let mut best: Option<(usize, f32)> = None;
        for i in (0..n).filter(|&i| !picked[i]) {
            let penalty = if nearest[i].is_finite() {
                nearest[i]
            } else {
                0.0
            };
            let value = (1.0 - weight) * relevance[i] - weight * penalty;
            if best.is_none_or(|(_, b)| value > b) {
                best = Some((i, value));
            }
        }
        let Some((at, _)) = best else { break };
        picked[at] = true;
        order.push(at);
        if let Some(v) = vectors[at] {
            for i in (0..n).filter(|&i| !picked[i]) {
                if let Some(u) = vectors[i] {
                    nearest[i] = nearest[i].max(vsearch_core::vector::dot(u, v));
                }
            }
        }
    }
    order
}

/// The mean cosine similarity over the pairs of `vectors` (intra-list similarity; 0 for fewer than two).
pub fn mean_pairwise_similarity(vectors: &[&[f32]]) -> f32 {
    let mut sum = 0.0f64;
    let mut pairs = 0u64;
    for (i, a) in vectors.iter().enumerate() {
        for b in &vectors[i + 1..] {
            sum += f64::from(vsearch_core::vector::dot(a, b));
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        (sum / pairs as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_zero_keeps_relevance_and_weight_spreads() {
        let a = [1.0f32, 0.0];
        let a2 = [0.999f32, 0.0447];
        let b = [0.0f32, 1.0];
        let vectors = [Some(&a[..]), Some(&a2[..]), Some(&b[..])];
        let relevance = [0.9, 0.89, 0.7];
        assert_eq!(mmr(&relevance, &vectors, 0.0), vec![0, 1, 2]);
        assert_eq!(mmr(&relevance, &vectors, 0.5), vec![0, 2, 1]);
        assert!(mean_pairwise_similarity(&[&a, &b]).abs() < 1e-6);
    }
}
