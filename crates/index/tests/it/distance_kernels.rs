//! Every SIMD distance kernel this CPU can run agrees with the portable one, on random data of every length
//! from 0 to 1100 (multiples of the vector widths and everything between) and at unaligned offsets. Each
//! level checked is recorded as exercised; a level this CPU cannot run is a listed skip, not a pass.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vsearch_index::distance::{self, ByteDot, ByteKernel, Kernels, SimdLevel};

const MAX_LEN: usize = 1100;
/// Relative tolerance: kernels sum in different orders.
const REL: f32 = 1e-5;

/// The kernels of every level this CPU runs (the portable ones last), each recorded as exercised for
/// `what`; a level it cannot run is a skip named after the level (a failure unless the run allows it).
fn levels(what: &str) -> Vec<Kernels> {
    let all: Vec<(SimdLevel, &str, bool)> = SimdLevel::ALL
        .iter()
        .map(|&l| (l, l.name(), distance::kernels(l).is_some()))
        .collect();
    vsearch_testkit::kernels::levels(what, &all)
        .into_iter()
        .filter_map(distance::kernels)
        .collect()
}

fn random(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-2.0f32..2.0)).collect()
}

/// Checks `kernels` against the portable ones on `a`, `b`.
fn check(kernels: &Kernels, a: &[f32], b: &[f32], what: &str) {
    let level = kernels.level;
    let want = distance::portable::dot(a, b);
    let got = (kernels.dot)(a, b);
    // A dot product of signed values may cancel to near zero: scale the tolerance by the sum of |a_i b_i|.
    let scale: f32 = a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum();
    assert!(
        (got - want).abs() <= REL * scale.max(1.0),
        "{level} dot, {what}: {got} against portable {want}"
    );
    let want = distance::portable::l2_squared(a, b);
    let got = (kernels.l2_squared)(a, b);
    assert!(
        (got - want).abs() <= REL * want.max(1.0),
        "{level} l2_squared, {what}: {got} against portable {want}"
    );
}

#[test]
fn every_kernel_equals_portable_at_every_length() {
    let mut rng = StdRng::seed_from_u64(11);
    let all = levels("index distances, every length");
    assert_eq!(all.last().map(|k| k.level), Some(SimdLevel::Portable));
    for len in 0..=MAX_LEN {
        let a = random(&mut rng, len);
        let b = random(&mut rng, len);
        for kernels in &all {
            check(kernels, &a, &b, &format!("length {len}"));
        }
    }
}

#[test]
fn every_kernel_equals_portable_at_unaligned_offsets() {
    let mut rng = StdRng::seed_from_u64(12);
    let all = levels("index distances, unaligned");
    let a = random(&mut rng, MAX_LEN + 8);
    let b = random(&mut rng, MAX_LEN + 8);
    for offset in 1..8 {
        for len in [1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 512, 784, 1000] {
            for kernels in &all {
                check(
                    kernels,
                    &a[offset..offset + len],
                    &b[8 - offset..8 - offset + len],
                    &format!("length {len}, offsets {offset}/{}", 8 - offset),
                );
            }
        }
    }
}

#[test]
fn exact_on_small_integers() {
    // Sums of small integers are exact in f32 whatever the order.
    let a: Vec<f32> = (0..100).map(|i| (i % 7) as f32 - 3.0).collect();
    let b: Vec<f32> = (0..100).map(|i| (i % 5) as f32 - 2.0).collect();
    let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
    for kernels in levels("index distances, small integers") {
        assert_eq!((kernels.dot)(&a, &b), dot, "{}", kernels.level);
        assert_eq!((kernels.l2_squared)(&a, &b), l2, "{}", kernels.level);
    }
    assert_eq!(distance::dot(&a, &b), dot);
    assert_eq!(distance::l2_squared(&a, &b), l2);
}

/// Every int8 kernel this CPU runs (portable last), each recorded as exercised for `what` under its
/// level's name; one it cannot run is a skip named after its level (`avx512` for VNNI too).
fn byte_dots(what: &str) -> Vec<(ByteDot, ByteKernel)> {
    ByteDot::ALL
        .into_iter()
        .filter(|k| {
            vsearch_testkit::kernels::runs(
                &format!("{what} ({})", k.name()),
                k.level().name(),
                k.kernel().is_some(),
            )
        })
        .filter_map(|k| Some((k, k.kernel()?)))
        .collect()
}

#[test]
fn every_int8_kernel_is_exact_at_every_length_and_offset() {
    let mut rng = StdRng::seed_from_u64(13);
    let all = byte_dots("index int8 inner products");
    assert_eq!(all.last().map(|k| k.0), Some(ByteDot::Portable));
    let a: Vec<i8> = (0..MAX_LEN + 8)
        .map(|_| rng.gen_range(-127i8..=127))
        .collect();
    let b: Vec<i8> = (0..MAX_LEN + 8)
        .map(|_| rng.gen_range(-127i8..=127))
        .collect();
    let exact = |x: &[i8], y: &[i8]| -> i32 {
        x.iter()
            .zip(y)
            .map(|(&p, &q)| i32::from(p) * i32::from(q))
            .sum()
    };
    for offset in 0..8 {
        for len in 0..=MAX_LEN {
            let (x, y) = (&a[offset..offset + len], &b[8 - offset..8 - offset + len]);
            for (kernel, dot_i8) in &all {
                assert_eq!(
                    dot_i8(x, y),
                    exact(x, y),
                    "{} dot_i8, length {len}, offset {offset}",
                    kernel.name()
                );
            }
        }
    }
    // The extremes: every product at its largest, of both signs.
    let high = vec![127i8; 4096];
    let low = vec![-127i8; 4096];
    for (kernel, dot_i8) in &all {
        assert_eq!(dot_i8(&high, &low), -127 * 127 * 4096, "{}", kernel.name());
        assert_eq!(dot_i8(&low, &low), 127 * 127 * 4096, "{}", kernel.name());
    }
    // The one in use is the best this CPU runs.
    assert_eq!(ByteDot::selected(), all[0].0);
}

#[test]
fn the_best_available_level_is_selected_and_named() {
    let best = distance::available()[0].level;
    assert_eq!(distance::selected().level, best);
    assert_eq!(vsearch_index::simd_level(), best.name());
    assert!(["avx512", "avx2", "portable"].contains(&vsearch_index::simd_level()));
    for level in SimdLevel::ALL {
        assert_eq!(distance::kernels(level).is_some(), level.is_supported());
        assert_eq!(level.to_string(), level.name());
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        assert_eq!(vsearch_index::simd_level(), "avx512");
    }
}
