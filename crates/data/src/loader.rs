//! `DataLoader`: batches of a [`Dataset`], in order or reshuffled each epoch from a seeded RNG;
//! in data-parallel training each process takes its own slice of every batch (`shard`).

use crate::dataset::Dataset;
use nabla_core::{Rng, Tensor};

/// Iterates a dataset in batches.
pub struct DataLoader<'a> {
    data: &'a Dataset,
    batch_size: usize,
    order: Vec<usize>,
    pos: usize,
    /// `(rank, processes)`: the slice of each batch this process takes.
    shard: (usize, usize),
}

/// The part of `0..n` that process `rank` of `size` takes: `n` split into `size` consecutive
/// parts whose lengths differ by at most one, the longer first (PyTorch's `tensor_split`).
pub fn shard_range(n: usize, rank: usize, size: usize) -> std::ops::Range<usize> {
    let size = size.max(1);
    let (base, extra) = (n / size, n % size);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

impl<'a> DataLoader<'a> {
    /// Batches of `batch_size` (the last may be smaller), in dataset order.
    pub fn new(data: &'a Dataset, batch_size: usize) -> DataLoader<'a> {
        DataLoader {
            data,
            batch_size: batch_size.max(1),
            order: (0..data.len()).collect(),
            pos: 0,
            shard: (0, 1),
        }
    }

    /// Batches in an order drawn from `rng` (a new order each time this is called).
    pub fn shuffled(data: &'a Dataset, batch_size: usize, rng: &mut Rng) -> DataLoader<'a> {
        let mut l = DataLoader::new(data, batch_size);
        rng.shuffle(&mut l.order);
        l
    }

    /// Takes only process `rank`'s slice (of `size`) of every batch, so that `size`
    /// processes with the same order see each batch exactly once between them.
    pub fn shard(mut self, rank: usize, size: usize) -> DataLoader<'a> {
        self.shard = (rank, size.max(1));
        self
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
        let indices = self.next_indices()?;
        Some(self.data.batch_all(&indices))
    }

    /// The dataset indices of the next batch (this process's slice of it when sharded).
    pub fn next_indices(&mut self) -> Option<Vec<usize>> {
        let end = self.next_end()?;
        let batch = &self.order[self.pos..end];
        let part = shard_range(batch.len(), self.shard.0, self.shard.1);
        self.pos = end;
        Some(batch[part].to_vec())
    }

    fn next_end(&self) -> Option<usize> {
        (self.pos < self.order.len()).then(|| (self.pos + self.batch_size).min(self.order.len()))
    }
}

impl Iterator for DataLoader<'_> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<(Tensor, Tensor)> {
        let indices = self.next_indices()?;
        Some(self.data.batch(&indices))
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

    #[test]
    fn shards_split_each_batch_like_tensor_split() {
        // torch.tensor_split(range(n), 3): lengths differ by one, the longer first
        let lens: Vec<usize> = (0..3).map(|r| shard_range(7, r, 3).len()).collect();
        assert_eq!(lens, [3, 2, 2]);
        assert_eq!(shard_range(7, 2, 3), 5..7);
        assert_eq!(shard_range(1, 1, 2), 1..1);
        let x: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let d = Dataset::new(x.clone(), &[1], x, &[]).unwrap();
        let whole: Vec<Vec<usize>> = {
            let mut l = DataLoader::shuffled(&d, 4, &mut Rng::new(5));
            std::iter::from_fn(|| l.next_indices()).collect()
        };
        for (step, batch) in whole.iter().enumerate() {
            let mut joined = Vec::new();
            for rank in 0..2 {
                let mut l = DataLoader::shuffled(&d, 4, &mut Rng::new(5)).shard(rank, 2);
                joined.extend(std::iter::from_fn(|| l.next_indices()).nth(step).unwrap());
            }
            assert_eq!(&joined, batch);
        }
    }
}
