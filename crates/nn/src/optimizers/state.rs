//! `OptState`: an optimiser's step counter, per-parameter buffers and scalars, in one plain
//! shape so checkpoints can save and restore any optimiser exactly.

/// Step counter `t`, buffers `slots[kind][param]` and scalars (e.g. Nadam's μ product).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptState {
    /// Steps taken.
    pub t: u64,
    /// `slots[kind][param index]`: one buffer per parameter per kind (m, v, ...).
    pub slots: Vec<Vec<Vec<f32>>>,
    /// Per-optimiser scalars that evolve with the steps.
    pub scalars: Vec<f64>,
}

impl OptState {
    /// Buffer `kind` of parameter `index`, created as `n` copies of `init` on first use.
    pub fn slot(&mut self, kind: usize, index: usize, n: usize, init: f32) -> &mut [f32] {
        if self.slots.len() <= kind {
            self.slots.resize_with(kind + 1, Vec::new);
        }
        let per_param = &mut self.slots[kind];
        if per_param.len() <= index {
            per_param.resize_with(index + 1, Vec::new);
        }
        if per_param[index].len() != n {
            per_param[index] = vec![init; n];
        }
        &mut per_param[index]
    }

    /// Whether parameter `index` has a buffer of `kind` yet (e.g. momentum's first step).
    pub fn has(&self, kind: usize, index: usize) -> bool {
        self.slots
            .get(kind)
            .and_then(|s| s.get(index))
            .is_some_and(|b| !b.is_empty())
    }

    /// Buffers `a` and `b` (`a < b`) of parameter `index`, both mutable.
    pub fn two(&mut self, a: usize, b: usize, index: usize, n: usize) -> (&mut [f32], &mut [f32]) {
        self.slot(b, index, n, 0.0);
        self.slot(a, index, n, 0.0);
        let (lo, hi) = self.slots.split_at_mut(b);
        (&mut lo[a][index], &mut hi[0][index])
    }

    /// Buffers 0, 1 and 2 of parameter `index`, all mutable.
    pub fn three(&mut self, index: usize, n: usize) -> (&mut [f32], &mut [f32], &mut [f32]) {
        for k in 0..3 {
            self.slot(k, index, n, 0.0);
        }
        let (a, rest) = self.slots.split_at_mut(1);
        let (b, c) = rest.split_at_mut(1);
        (&mut a[0][index], &mut b[0][index], &mut c[0][index])
    }
}
