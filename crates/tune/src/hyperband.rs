//! Hyperband (Li et al. 2018, KerasTuner's `Hyperband`): brackets of successive halving.
//! Bracket `s` starts `n` random configurations at `R / η^s` epochs; after each rung the best
//! `1/η` go on, trained further to `η` times the epochs, until one reaches `R`:
//!
//! ```text
//! s_max = ⌊log_η R⌋;  for s = s_max … 0:  n = ⌈(s_max + 1) η^s / (s + 1)⌉
//!   rung i = 0 … s:  n_i = ⌊n / η^i⌋ configurations,  r_i = R η^(i − s) epochs (rounded)
//! ```
//! With R = 9, η = 3: 9×1 → 3×3 → 1×9 epochs, 5×3 → 1×9, 3×9. A configuration carried to
//! the next rung continues from its checkpoint, so it costs `r_i − r_(i−1)` more epochs.

/// One rung: its trials are numbers `start .. start + n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rung {
    /// The number of the rung's first trial.
    pub start: usize,
    /// Configurations trained in this rung.
    pub n: usize,
    /// Epochs each is trained to (in all).
    pub epochs: usize,
    /// Whether the rung starts a bracket (fresh random configurations).
    pub first: bool,
}

/// The rungs of `iterations` rounds of Hyperband with at most `max_epochs` epochs and
/// reduction factor `factor`, in the order they run.
pub fn rungs(max_epochs: usize, factor: usize, iterations: usize) -> Vec<Rung> {
    let (r, eta) = (max_epochs.max(1) as f64, factor.max(2) as f64);
    let mut s_max = 0;
    while eta.powi(s_max + 1) <= r * (1.0 + 1e-9) {
        s_max += 1;
    }
    let mut out = Vec::new();
    let mut start = 0;
    for _ in 0..iterations.max(1) {
        for s in (0..=s_max).rev() {
            let n = (f64::from(s_max + 1) * eta.powi(s) / f64::from(s + 1)).ceil();
            for i in 0..=s {
                let n_i = ((n / eta.powi(i)).floor() as usize).max(1);
                let epochs = ((r * eta.powi(i - s)).round() as usize).max(1);
                out.push(Rung {
                    start,
                    n: n_i,
                    epochs,
                    first: i == 0,
                });
                start += n_i;
            }
        }
    }
    out
}

/// Epochs trained in all when configurations continue from rung to rung.
pub fn total_epochs(rungs: &[Rung]) -> usize {
    let mut prev = 0;
    rungs
        .iter()
        .map(|r| {
            let before = if r.first { 0 } else { prev };
            prev = r.epochs;
            r.n * (r.epochs - before)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_of_the_paper() {
        let shape: Vec<(usize, usize, bool)> = rungs(9, 3, 1)
            .iter()
            .map(|r| (r.n, r.epochs, r.first))
            .collect();
        assert_eq!(
            shape,
            [
                (9, 1, true),
                (3, 3, false),
                (1, 9, false),
                (5, 3, true),
                (1, 9, false),
                (3, 9, true)
            ]
        );
        assert_eq!(rungs(9, 3, 1).last().unwrap().start, 19);
        assert_eq!(
            total_epochs(&rungs(9, 3, 1)),
            9 + 3 * 2 + 6 + 5 * 3 + 6 + 27
        );
        assert_eq!(rungs(9, 3, 2).len(), 12);
    }
}
