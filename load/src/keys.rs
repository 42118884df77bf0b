//! Which key an operation picks: uniformly, or Zipf-distributed (key 0
//! hottest), for reads over every key and for writes over the writing task's
//! own keys (each key keeps its one writer, which verification needs).
//!
//! Not here: what is done with the key (`run`), the configuration (`config`).

use crate::config::KeyDist;

/// A Zipf distribution over `0..n`: rank `i` drawn in proportion to
/// `1 / (i + 1)^s`, sampled by a binary search of its cumulative weights.
pub(crate) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub(crate) fn new(n: u64, s: f64) -> Zipf {
        let n = n.max(1);
        let mut cdf = Vec::with_capacity(usize::try_from(n).unwrap_or(usize::MAX).min(1 << 26));
        let mut sum = 0.0;
        for i in 0..n {
            sum += 1.0 / ((i + 1) as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    /// A rank in `0..n`.
    pub(crate) fn sample(&self, rng: &mut fastrand::Rng) -> u64 {
        let u = rng.f64();
        let rank = self.cdf.partition_point(|c| *c < u);
        rank.min(self.cdf.len().saturating_sub(1)) as u64
    }
}

/// The key picker of one run.
pub(crate) enum KeyPicker {
    Uniform,
    /// Over every key (reads), and over the most keys one writer owns (writes).
    Zipf {
        all: Zipf,
        own: Zipf,
    },
}

impl KeyPicker {
    pub(crate) fn new(dist: KeyDist, keys: u64, tasks: u64) -> KeyPicker {
        match dist {
            KeyDist::Uniform => KeyPicker::Uniform,
            KeyDist::Zipf(s) => {
                let per_writer = keys.max(1).div_ceil(tasks.max(1));
                KeyPicker::Zipf { all: Zipf::new(keys, s), own: Zipf::new(per_writer, s) }
            }
        }
    }

    /// A key to read, in `0..keys`.
    pub(crate) fn read(&self, rng: &mut fastrand::Rng, keys: u64) -> u64 {
        match self {
            KeyPicker::Uniform => rng.u64(0..keys.max(1)),
            KeyPicker::Zipf { all, .. } => all.sample(rng).min(keys.max(1) - 1),
        }
    }

    /// The rank, in `0..owned`, of the key a writer that owns `owned` keys writes.
    pub(crate) fn write_rank(&self, rng: &mut fastrand::Rng, owned: u64) -> u64 {
        let owned = owned.max(1);
        match self {
            KeyPicker::Uniform => rng.u64(0..owned),
            // The shared distribution covers the most keys any writer owns;
            // a writer with one fewer redraws, then falls back to uniform.
            KeyPicker::Zipf { own, .. } => {
                (0..4).map(|_| own.sample(rng)).find(|r| *r < owned).unwrap_or_else(|| rng.u64(0..owned))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_favours_the_first_keys_and_stays_in_range() {
        let z = Zipf::new(100_000, 0.99);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut head = 0;
        for _ in 0..100_000 {
            let k = z.sample(&mut rng);
            assert!(k < 100_000);
            if k < 100 {
                head += 1;
            }
        }
        // With s = 0.99 the first 100 of 100 000 keys take about 40 % of the draws.
        assert!((30_000..50_000).contains(&head), "{head}");
        assert_eq!(Zipf::new(1, 0.99).sample(&mut rng), 0);
    }

    #[test]
    fn writers_stay_on_their_own_keys() {
        let picker = KeyPicker::new(KeyDist::Zipf(0.99), 1000, 7);
        let mut rng = fastrand::Rng::with_seed(2);
        for owned in [1, 2, 142, 143] {
            for _ in 0..1000 {
                assert!(picker.write_rank(&mut rng, owned) < owned);
            }
        }
        let uniform = KeyPicker::new(KeyDist::Uniform, 10, 3);
        for _ in 0..100 {
            assert!(uniform.read(&mut rng, 10) < 10);
            assert!(uniform.write_rank(&mut rng, 4) < 4);
        }
    }
}
