//! Metric computation: each metric accumulates exact totals over batches (counts, a
//! confusion matrix, sums, or scores for AUC) and gives its value at the end of an epoch.
//! The formulas are in `nabla_nn::metrics`.

use crate::distributed::Communicator;
use nabla_core::backend::argmax_rows;
use nabla_core::Tensor;
use nabla_nn::{Loss, LossSpec, Metric};

/// How predictions and targets are read as classes, from the loss and the output size.
#[derive(Clone, Copy, Debug)]
pub struct ClassReading {
    /// Loss kind (sparse targets are class indices).
    pub loss: Loss,
    /// Outputs are logits (threshold 0 instead of 0.5 for one output).
    pub from_logits: bool,
}

impl ClassReading {
    /// From a compiled loss.
    pub fn of(loss: &LossSpec) -> ClassReading {
        ClassReading {
            loss: loss.kind,
            from_logits: loss.from_logits,
        }
    }

    /// `(predicted, true)` class per sample; a single output is class 1 above the threshold.
    pub fn classes(&self, y_pred: &Tensor, y_true: &Tensor) -> (Vec<usize>, Vec<usize>, usize) {
        let c = y_pred.shape().last().copied().unwrap_or(1).max(1);
        let thr = if self.from_logits { 0.0 } else { 0.5 };
        let pred = if c == 1 {
            y_pred.data().iter().map(|&p| (p > thr) as usize).collect()
        } else {
            argmax_rows(y_pred.data(), c)
        };
        let truth = if self.loss == Loss::SparseCategoricalCrossentropy {
            y_true.data().iter().map(|&v| v as usize).collect()
        } else if c == 1 {
            y_true.data().iter().map(|&v| (v > 0.5) as usize).collect()
        } else {
            argmax_rows(y_true.data(), c)
        };
        (pred, truth, c.max(2))
    }
}

/// Checks that `metric` can read targets of `y_shape` for outputs of `out_shape`: class
/// indices need one per output row, everything else targets shaped like the outputs.
pub fn check_targets(
    metric: Metric,
    loss: Loss,
    y_shape: &[usize],
    out_shape: &[usize],
) -> Result<(), String> {
    let rows = &out_shape[..out_shape.len().saturating_sub(1)];
    let indices = y_shape == rows || (rows.is_empty() && y_shape == [1]);
    let like_outputs = y_shape == out_shape;
    let sparse_loss = loss == Loss::SparseCategoricalCrossentropy;
    let (ok, expected) = match metric {
        Metric::Custom(_) => (true, ""), // a custom metric reads targets its own way
        Metric::SparseCategoricalAccuracy => (indices, "class indices"),
        Metric::CategoricalAccuracy => (like_outputs, "one-hot targets shaped like the outputs"),
        Metric::BinaryAccuracy
        | Metric::MeanAbsoluteError
        | Metric::MeanSquaredError
        | Metric::RootMeanSquaredError => (like_outputs, "targets shaped like the outputs"),
        _ if sparse_loss => (indices, "class indices (as the loss)"),
        _ => (
            like_outputs,
            "targets shaped like the outputs (as the loss)",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "metric {}: expected {expected} for outputs {out_shape:?}, received targets of shape {y_shape:?}",
            metric.name()
        ))
    }
}

enum State {
    Count {
        hit: f64,
        n: f64,
    },
    Confusion {
        m: Vec<u64>,
        c: usize,
        binary: bool,
    },
    Scores(Vec<(f32, bool)>),
    Errors {
        abs: f64,
        sq: f64,
        n: f64,
    },
    LogLoss {
        sum: f64,
        n: f64,
    },
    /// A custom metric: Σ batch value · batch size, and the samples.
    Mean {
        sum: f64,
        n: f64,
    },
}

/// One metric's running totals.
pub struct Tracker {
    metric: Metric,
    state: State,
}

impl Tracker {
    /// Empty totals for `metric`.
    pub fn new(metric: Metric) -> Tracker {
        let state = match metric {
            Metric::Precision | Metric::Recall | Metric::F1 => State::Confusion {
                m: Vec::new(),
                c: 0,
                binary: false,
            },
            Metric::Auc => State::Scores(Vec::new()),
            Metric::Perplexity => State::LogLoss { sum: 0.0, n: 0.0 },
            Metric::Custom(_) => State::Mean { sum: 0.0, n: 0.0 },
            Metric::MeanAbsoluteError | Metric::MeanSquaredError | Metric::RootMeanSquaredError => {
                State::Errors {
                    abs: 0.0,
                    sq: 0.0,
                    n: 0.0,
                }
            }
            _ => State::Count { hit: 0.0, n: 0.0 },
        };
        Tracker { metric, state }
    }

    /// The metric tracked.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Adds one batch.
    pub fn add(&mut self, how: ClassReading, y_pred: &Tensor, y_true: &Tensor) {
        let c = y_pred.shape().last().copied().unwrap_or(1).max(1);
        let rows = y_pred.numel() / c;
        match (&mut self.state, self.metric) {
            (State::Count { hit, n }, Metric::BinaryAccuracy) => {
                let thr = if how.from_logits { 0.0 } else { 0.5 };
                for (p, t) in y_pred.data().iter().zip(y_true.data()) {
                    *hit += ((*p > thr) == (*t > 0.5)) as u8 as f64;
                }
                *n += y_pred.numel() as f64;
            }
            (State::Count { hit, n }, Metric::TopKCategoricalAccuracy { k }) => {
                let (_, truth, _) = how.classes(y_pred, y_true);
                for (row, &t) in y_pred.data().chunks(c).zip(&truth) {
                    // rank of the true class: how many outputs beat it
                    let better = row.iter().filter(|&&v| v > row[t.min(c - 1)]).count();
                    *hit += (better < k) as u8 as f64;
                }
                *n += rows as f64;
            }
            (State::Count { hit, n }, m) => {
                let how = match m {
                    Metric::SparseCategoricalAccuracy => ClassReading {
                        loss: Loss::SparseCategoricalCrossentropy,
                        ..how
                    },
                    Metric::CategoricalAccuracy => ClassReading {
                        loss: Loss::CategoricalCrossentropy,
                        ..how
                    },
                    _ => how,
                };
                let (pred, truth, _) = how.classes(y_pred, y_true);
                *hit += pred.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64;
                *n += pred.len() as f64;
            }
            (
                State::Confusion {
                    m,
                    c: classes,
                    binary,
                },
                _,
            ) => {
                let (pred, truth, cls) = how.classes(y_pred, y_true);
                if m.is_empty() {
                    *classes = cls;
                    *binary = c == 1;
                    *m = vec![0; cls * cls];
                }
                for (&p, &t) in pred.iter().zip(&truth) {
                    m[t * *classes + p] += 1;
                }
            }
            (State::LogLoss { sum, n }, _) => {
                let (_, truth, _) = how.classes(y_pred, y_true);
                for (row, &t) in y_pred.data().chunks(c).zip(&truth) {
                    let t = t.min(c - 1);
                    *sum += if how.from_logits {
                        // log Σ e^v - v_t, shifted by the row's maximum
                        let m = row.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)) as f64;
                        let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
                        lse - row[t] as f64
                    } else {
                        -(row[t].max(1e-7) as f64).ln()
                    };
                }
                *n += rows as f64;
            }
            (State::Scores(s), _) => {
                for (p, t) in y_pred.data().iter().zip(y_true.data()) {
                    s.push((*p, *t > 0.5));
                }
            }
            (State::Mean { sum, n }, metric) => {
                // only a custom metric has this state
                let Metric::Custom(i) = metric else { return };
                let b = y_pred.shape().first().copied().unwrap_or(1) as f64;
                *sum += nabla_nn::registry::custom_metric(i)(y_pred, y_true) * b;
                *n += b;
            }
            (State::Errors { abs, sq, n }, _) => {
                for (p, t) in y_pred.data().iter().zip(y_true.data()) {
                    let d = (*p - *t) as f64;
                    *abs += d.abs();
                    *sq += d * d;
                }
                *n += y_pred.numel() as f64;
            }
        }
    }

    /// Sums the totals of every process of `comm` (data-parallel training); the scores of
    /// AUC are gathered, in rank order.
    pub fn reduce(&mut self, comm: &dyn Communicator) {
        let sum = |v: &mut [f64]| comm.all_reduce_f64(v);
        match &mut self.state {
            State::Count { hit: a, n }
            | State::LogLoss { sum: a, n }
            | State::Mean { sum: a, n } => {
                let mut v = [*a, *n];
                sum(&mut v);
                (*a, *n) = (v[0], v[1]);
            }
            State::Errors { abs, sq, n } => {
                let mut v = [*abs, *sq, *n];
                sum(&mut v);
                (*abs, *sq, *n) = (v[0], v[1], v[2]);
            }
            State::Confusion { m, c, binary } => {
                // a process that saw no sample does not know the classes yet
                let seen = !m.is_empty();
                let mut head = [
                    if seen { *c as f64 } else { 0.0 },
                    seen as u8 as f64,
                    *binary as u8 as f64,
                ];
                sum(&mut head);
                if head[1] == 0.0 {
                    return;
                }
                (*c, *binary) = ((head[0] / head[1]) as usize, head[2] > 0.0);
                m.resize(*c * *c, 0);
                let mut v: Vec<f64> = m.iter().map(|&x| x as f64).collect();
                sum(&mut v);
                *m = v.iter().map(|&x| x as u64).collect();
            }
            State::Scores(s) => {
                let mut lens = vec![0.0; comm.size()];
                lens[comm.rank()] = s.len() as f64;
                sum(&mut lens);
                let before: f64 = lens[..comm.rank()].iter().sum();
                let mut v = vec![0.0; 2 * lens.iter().sum::<f64>() as usize];
                for (i, (p, t)) in s.iter().enumerate() {
                    let at = 2 * (before as usize + i);
                    (v[at], v[at + 1]) = (*p as f64, *t as u8 as f64);
                }
                sum(&mut v);
                *s = v.chunks(2).map(|c| (c[0] as f32, c[1] > 0.5)).collect();
            }
        }
    }

    /// The metric's value over everything added.
    pub fn result(&self) -> f64 {
        match (&self.state, self.metric) {
            (State::Count { hit, n }, _) => hit / n.max(1.0),
            (State::Mean { sum, n }, _) => sum / n.max(1.0),
            (State::Confusion { m, c, binary }, metric) => {
                let scores = per_class(m, *c);
                let pick = |s: &ClassScores| match metric {
                    Metric::Precision => s.precision,
                    Metric::Recall => s.recall,
                    _ => s.f1,
                };
                if *binary {
                    return scores.get(1).map(pick).unwrap_or(0.0); // the positive class
                }
                let present: Vec<&ClassScores> = scores
                    .iter()
                    .filter(|s| s.support > 0 || s.predicted > 0)
                    .collect();
                present.iter().map(|s| pick(s)).sum::<f64>() / present.len().max(1) as f64
            }
            (State::Scores(s), _) => auc(s),
            (State::Errors { abs, n, .. }, Metric::MeanAbsoluteError) => abs / n.max(1.0),
            (State::Errors { sq, n, .. }, Metric::MeanSquaredError) => sq / n.max(1.0),
            (State::Errors { sq, n, .. }, _) => (sq / n.max(1.0)).sqrt(),
            (State::LogLoss { sum, n }, _) => (sum / n.max(1.0)).exp(),
        }
    }
}

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassScores {
    /// tp / (tp + fp)
    pub precision: f64,
    /// tp / (tp + fn)
    pub recall: f64,
    /// 2 p r / (p + r)
    pub f1: f64,
    /// Samples of this class.
    pub support: u64,
    /// Samples predicted as this class.
    pub predicted: u64,
}

/// Per-class scores from a confusion matrix `m[true · c + predicted]` (0 where undefined).
pub fn per_class(m: &[u64], c: usize) -> Vec<ClassScores> {
    (0..c)
        .map(|k| {
            let tp = m[k * c + k] as f64;
            let support: u64 = (0..c).map(|p| m[k * c + p]).sum();
            let predicted: u64 = (0..c).map(|t| m[t * c + k]).sum();
            let precision = if predicted > 0 {
                tp / predicted as f64
            } else {
                0.0
            };
            let recall = if support > 0 {
                tp / support as f64
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScores {
                precision,
                recall,
                f1,
                support,
                predicted,
            }
        })
        .collect()
}

/// Exact ROC AUC from `(score, positive)` pairs: the probability that a random positive
/// scores above a random negative (ties count half), via average ranks (Mann–Whitney U).
pub fn auc(scores: &[(f32, bool)]) -> f64 {
    let mut s: Vec<(f32, bool)> = scores.to_vec();
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut i) = (0.0f64, 0usize);
    while i < s.len() {
        let mut j = i;
        while j < s.len() && s[j].0 == s[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0; // ranks i+1 ..= j
        rank_sum += avg_rank * s[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let pos = s.iter().filter(|x| x.1).count() as f64;
    let neg = s.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_hand_counts() {
        // positives 0.9, 0.4; negatives 0.5, 0.1: pairs won 3 of 4
        let s = [(0.9, true), (0.4, true), (0.5, false), (0.1, false)];
        assert!((auc(&s) - 0.75).abs() < 1e-12);
        assert!((auc(&[(0.5, true), (0.5, false)]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn per_class_scores() {
        // 2 classes: true 0 -> predicted 0 (3), 1 (1); true 1 -> 0 (2), 1 (4)
        let s = per_class(&[3, 1, 2, 4], 2);
        assert!((s[1].precision - 0.8).abs() < 1e-12);
        assert!((s[1].recall - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(s[0].support, 4);
    }
}
