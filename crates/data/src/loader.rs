//! `DataLoader`: batches of a [`Dataset`], in order or reshuffled each epoch from a seeded RNG.

use crate::dataset::Dataset;
use nabla_core::{Rng, Tensor};

/// Iterates a dataset in batches.
pub struct DataLoader<'a> {
    data: &'a Dataset,
    batch_size: usize,
    order: Vec<usize>,
    pos: usize,
}

impl<'a> DataLoader<'a> {
    /// Batches of `batch_size` (the last may be smaller), in dataset order.
    pub fn new(data: &'a Dataset, batch_size: usize) -> DataLoader<'a> {
        DataLoader {
            data,
            batch_size: batch_size.max(1),
            order: (0..data.len()).collect(),
            pos: 0,
        }
    }

    /// Batches in an order drawn from `rng` (a new order each time this is called).
    pub fn shuffled(data: &'a Dataset, batch_size: usize, rng: &mut Rng) -> DataLoader<'a> {
        let mut l = DataLoader::new(data, batch_size);
        rng.shuffle(&mut l.order);
        l
    }

    /// Number of batches.
    pub fn steps(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// The sample order of this pass.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The next batch with every input and target array (a model of several inputs or
    /// outputs), or `None` after the last.
    pub fn next_all(&mut self) -> Option<(Vec<Tensor>, Vec<Tensor>)> {
        let end = self.next_end()?;
        let batch = self.data.batch_all(&self.order[self.pos..end]);
        self.pos = end;
        Some(batch)
    }

    fn next_end(&self) -> Option<usize> {
        (self.pos < self.order.len()).then(|| (self.pos + self.batch_size).min(self.order.len()))
    }
}

impl Iterator for DataLoader<'_> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<(Tensor, Tensor)> {
        let end = self.next_end()?;
        let batch = self.data.batch(&self.order[self.pos..end]);
        self.pos = end;
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_every_sample_once_and_reshuffles() {
        let x: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let d = Dataset::new(x.clone(), &[1], x, &[]).unwrap();
        let mut rng = Rng::new(3);
        let first: Vec<f32> = DataLoader::shuffled(&d, 4, &mut rng)
            .flat_map(|(x, _)| x.to_vec())
            .collect();
        let second: Vec<f32> = DataLoader::shuffled(&d, 4, &mut rng)
            .flat_map(|(x, _)| x.to_vec())
            .collect();
        assert_ne!(first, second);
        let mut s = first.clone();
        s.sort_by(f32::total_cmp);
        assert_eq!(s, (0..10).map(|v| v as f32).collect::<Vec<_>>());
        assert_eq!(DataLoader::new(&d, 4).steps(), 3);
    }
}
