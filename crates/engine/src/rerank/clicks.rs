//! Click models: how what people open becomes training labels ([`skip_above`]), and a simulated user
//! ([`ClickModel`]) for measuring the re-ranker on data no one tuned it to.

use rand::Rng;

/// The labels of one search's results under the skip-above model: a result opened or pinned is
/// positive; one shown above the lowest such result and not chosen was seen and skipped, so negative;
/// the rest (below the last choice: maybe never seen) teach nothing. `chosen` holds 0-based indices
/// into the `shown` results; the answer is (index, positive) in the order shown.
pub fn skip_above(shown: usize, chosen: &[usize]) -> Vec<(usize, bool)> {
    let Some(&last) = chosen.iter().filter(|&&c| c < shown).max() else {
        return Vec::new();
    };
    (0..=last).map(|i| (i, chosen.contains(&i))).collect()
}

/// A simulated user: looks down the results, examining position `p` (1-based) with probability
/// `1 / p^position_bias`; opens an examined result it wants with probability `open_relevant`, and
/// one it does not with probability `noise`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClickModel {
    pub position_bias: f32,
    pub open_relevant: f32,
    pub noise: f32,
}

impl Default for ClickModel {
    fn default() -> Self {
        Self {
            position_bias: 0.7,
            open_relevant: 0.8,
            noise: 0.03,
        }
    }
}

impl ClickModel {
    /// The 0-based indices opened from results whose relevance to the user is `relevant` (in the
    /// order shown).
    pub fn opens(&self, relevant: &[bool], rng: &mut impl Rng) -> Vec<usize> {
        relevant
            .iter()
            .enumerate()
            .filter(|&(i, &wanted)| {
                let examined = rng.gen::<f32>() < 1.0 / ((i + 1) as f32).powf(self.position_bias);
                let p = if wanted {
                    self.open_relevant
                } else {
                    self.noise
                };
                examined && rng.gen::<f32>() < p
            })
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn skipped_results_above_an_open_are_negative_and_below_it_unlabelled() {
        assert_eq!(
            skip_above(6, &[1, 3]),
            [(0, false), (1, true), (2, false), (3, true)]
        );
        assert_eq!(skip_above(6, &[]), []);
        assert_eq!(skip_above(2, &[5]), []);
    }

    #[test]
    fn the_simulated_user_prefers_what_it_wants_and_the_top() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let model = ClickModel::default();
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            for i in model.opens(&[true, false, true, true], &mut rng) {
                counts[i] += 1;
            }
        }
        assert!(counts[0] > counts[2] && counts[2] > counts[3], "{counts:?}");
        assert!(counts[1] < counts[3], "{counts:?}");
        assert!(counts[1] > 0, "noise opens some unwanted results");
    }
}
