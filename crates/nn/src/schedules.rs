//! Learning-rate schedules ("dynamic learning rate"): the learning rate as a function of the
//! training time `t`, counted in epochs (`per = "epoch"`, the default) or optimiser steps
//! (`per = "step"`; one-cycle's default), starting at 0. `lr0` is the optimiser's
//! `learning_rate`.
//!
//! - constant:            `lr0`
//! - step:                `lr0 · γ^⌊t / step_size⌋`                         (PyTorch StepLR)
//! - multi_step:          `lr0 · γ^(number of milestones ≤ t)`              (MultiStepLR)
//! - exponential:         `lr0 · rate^(t / decay_steps)` (`⌊⌋` with staircase) (Keras ExponentialDecay)
//! - inverse_time:        `lr0 / (1 + rate · t / decay_steps)`             (InverseTimeDecay)
//! - polynomial:          `(lr0 - end) · (1 - min(t, T) / T)^power + end`   (PolynomialDecay)
//! - cosine:              linear warm-up over `warmup_steps` (lr0·(t+1)/(w+1)), then
//!   `lr0 · (α + (1 - α) · ½ (1 + cos(π · τ / T)))` over `T = decay_steps`; with `restarts`
//!   the period grows by `t_mul` and the peak by `m_mul` at each restart (SGDR, Loshchilov &
//!   Hutter 2017; Keras CosineDecay / CosineDecayRestarts)
//! - one_cycle:           up from `max_lr / div_factor` to `max_lr` over `pct_start` of
//!   `total_steps`, then down to `max_lr / (div_factor · final_div_factor)`, cosine-annealed
//!   (Smith 2018; PyTorch OneCycleLR without momentum cycling)
//! - piecewise_constant:  `values[i]` for `boundaries[i-1] < t ≤ boundaries[i]`   (Keras)
//! - linear:              `lr0 · t / w` for `t < w = warmup_steps`, then
//!   `lr0 · max(0, (T − t) / (T − w))` to 0 at `T = total_steps` (transformers'
//!   `get_linear_schedule_with_warmup`, the fine-tuning default; counted in steps)
//! - linear_scaling:      large global batches (data-parallel training; Goyal et al. 2017):
//!   `lr0 · (1 + (k − 1) · t / w)` for `t < w = warmup_steps`, then
//!   `lr0 · k · γ^(number of milestones ≤ t)`, where `k = scale` is the global batch over the
//!   batch `lr0` was tuned for (counted in steps)

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// When a schedule's clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// Once per epoch (the learning rate changes at epoch starts).
    #[default]
    Epoch,
    /// Once per optimiser step.
    Step,
}

/// A learning-rate schedule with its clock: `{ type = "cosine", decay_steps = 10, per = "epoch" }`
/// or just `"constant"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// The shape of the schedule.
    pub kind: ScheduleKind,
    /// Epochs or steps (default: epochs; steps for one_cycle and linear).
    pub per: Option<Per>,
}

impl Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(&self.kind).map_err(serde::ser::Error::custom)?;
        if let (Some(per), Some(m)) = (self.per, v.as_object_mut()) {
            m.insert(
                "per".into(),
                serde_json::to_value(per).map_err(serde::ser::Error::custom)?,
            );
        }
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut v = match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => serde_json::json!({ "type": s }),
            other => other,
        };
        let per = match v.as_object_mut().and_then(|m| m.remove("per")) {
            Some(p) => Some(serde_json::from_value(p).map_err(D::Error::custom)?),
            None => None,
        };
        let kind = serde_json::from_value(v).map_err(D::Error::custom)?;
        Ok(Schedule { kind, per })
    }
}

/// The schedules (see the module docs for the formulas).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleKind {
    /// The optimiser's learning rate throughout.
    Constant,
    /// Multiply by `gamma` every `step_size`.
    Step {
        /// Period.
        step_size: u64,
        /// Factor (default 0.1).
        #[serde(default = "tenth")]
        gamma: f64,
    },
    /// Multiply by `gamma` at each milestone.
    MultiStep {
        /// Increasing times.
        milestones: Vec<u64>,
        /// Factor (default 0.1).
        #[serde(default = "tenth")]
        gamma: f64,
    },
    /// Exponential decay.
    Exponential {
        /// Factor per `decay_steps`.
        decay_rate: f64,
        /// Period of one factor (default 1).
        #[serde(default = "one_u")]
        decay_steps: u64,
        /// Decay in whole periods.
        #[serde(default)]
        staircase: bool,
    },
    /// Inverse-time decay.
    InverseTime {
        /// Rate.
        decay_rate: f64,
        /// Period (default 1).
        #[serde(default = "one_u")]
        decay_steps: u64,
        /// Decay in whole periods.
        #[serde(default)]
        staircase: bool,
    },
    /// Polynomial decay to `end_learning_rate` at `decay_steps`.
    Polynomial {
        /// Length of the decay.
        decay_steps: u64,
        /// Final learning rate (default 1e-4, Keras's).
        #[serde(default = "end_lr")]
        end_learning_rate: f64,
        /// Exponent (default 1: linear).
        #[serde(default = "one_f")]
        power: f64,
    },
    /// Cosine decay with optional linear warm-up and warm restarts.
    Cosine {
        /// Length of the (first) decay, after the warm-up.
        decay_steps: u64,
        /// Final learning rate as a fraction of `lr0` (default 0).
        #[serde(default)]
        alpha: f64,
        /// Length of the linear warm-up up to `lr0` (default 0).
        #[serde(default)]
        warmup_steps: u64,
        /// Restart the cosine after each period.
        #[serde(default)]
        restarts: bool,
        /// Period growth per restart (default 2).
        #[serde(default = "two")]
        t_mul: f64,
        /// Peak factor per restart (default 1).
        #[serde(default = "one_f")]
        m_mul: f64,
    },
    /// The one-cycle policy.
    OneCycle {
        /// Peak learning rate.
        max_lr: f64,
        /// Length of the cycle.
        total_steps: u64,
        /// Fraction spent rising (default 0.3).
        #[serde(default = "pct")]
        pct_start: f64,
        /// `max_lr / initial lr` (default 25).
        #[serde(default = "div")]
        div_factor: f64,
        /// `initial lr / final lr` (default 1e4).
        #[serde(default = "final_div")]
        final_div_factor: f64,
    },
    /// Linear warm-up from 0, then linear decay to 0.
    Linear {
        /// The step where the rate reaches 0.
        total_steps: u64,
        /// Steps of warm-up (default 0).
        #[serde(default)]
        warmup_steps: u64,
    },
    /// The linear scaling rule with gradual warm-up, for large global batches.
    LinearScaling {
        /// `k`: the global batch over the batch `lr0` suits (8192 / 256 = 32 in the paper).
        scale: f64,
        /// Steps from `lr0` up to `k · lr0` (the paper: 5 epochs).
        warmup_steps: u64,
        /// Times where the rate is multiplied by `gamma` (default none).
        #[serde(default)]
        milestones: Vec<u64>,
        /// Factor at each milestone (default 0.1).
        #[serde(default = "tenth")]
        gamma: f64,
    },
    /// Constant pieces.
    PiecewiseConstant {
        /// Increasing times where the value changes.
        boundaries: Vec<u64>,
        /// One more value than boundaries.
        values: Vec<f64>,
    },
}

fn tenth() -> f64 {
    0.1
}
fn one_u() -> u64 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn two() -> f64 {
    2.0
}
fn end_lr() -> f64 {
    1e-4
}
fn pct() -> f64 {
    0.3
}
fn div() -> f64 {
    25.0
}
fn final_div() -> f64 {
    1e4
}

impl Schedule {
    /// A schedule on the default clock.
    pub fn new(kind: ScheduleKind) -> Schedule {
        Schedule { kind, per: None }
    }

    /// The clock: `per`, or epochs (steps for one_cycle).
    pub fn per(&self) -> Per {
        self.per.unwrap_or(match self.kind {
            ScheduleKind::OneCycle { .. }
            | ScheduleKind::Linear { .. }
            | ScheduleKind::LinearScaling { .. } => Per::Step,
            _ => Per::Epoch,
        })
    }

    /// The learning rate at time `t` for base rate `lr0`.
    pub fn learning_rate(&self, lr0: f32, t: u64) -> f32 {
        let (lr0, tf) = (lr0 as f64, t as f64);
        let lr = match &self.kind {
            ScheduleKind::Constant => lr0,
            ScheduleKind::Step { step_size, gamma } => {
                lr0 * gamma.powf((t / (*step_size).max(1)) as f64)
            }
            ScheduleKind::MultiStep { milestones, gamma } => {
                lr0 * gamma.powi(milestones.iter().filter(|&&m| m <= t).count() as i32)
            }
            ScheduleKind::Exponential {
                decay_rate,
                decay_steps,
                staircase,
            } => lr0 * decay_rate.powf(periods(tf, *decay_steps, *staircase)),
            ScheduleKind::InverseTime {
                decay_rate,
                decay_steps,
                staircase,
            } => lr0 / (1.0 + decay_rate * periods(tf, *decay_steps, *staircase)),
            ScheduleKind::Polynomial {
                decay_steps,
                end_learning_rate,
                power,
            } => {
                let frac = 1.0 - tf.min(*decay_steps as f64) / (*decay_steps).max(1) as f64;
                (lr0 - end_learning_rate) * frac.powf(*power) + end_learning_rate
            }
            ScheduleKind::Cosine {
                decay_steps,
                alpha,
                warmup_steps,
                restarts,
                t_mul,
                m_mul,
            } => {
                let w = *warmup_steps as f64;
                if tf < w {
                    lr0 * (tf + 1.0) / (w + 1.0)
                } else {
                    let (tau, period, peak) =
                        cosine_phase(tf - w, *decay_steps as f64, *restarts, *t_mul, *m_mul);
                    let cos = 0.5 * (1.0 + (PI * (tau / period).min(1.0)).cos());
                    lr0 * peak * ((1.0 - alpha) * cos + alpha)
                }
            }
            ScheduleKind::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                let start = max_lr / div_factor;
                let end = start / final_div_factor;
                let up = (pct_start * *total_steps as f64 - 1.0).max(1.0);
                let down = (*total_steps as f64 - 1.0 - up).max(1.0);
                let anneal = |a: f64, b: f64, frac: f64| {
                    b + (a - b) * 0.5 * (1.0 + (PI * frac.min(1.0)).cos())
                };
                if tf <= up {
                    anneal(start, *max_lr, tf / up)
                } else {
                    anneal(*max_lr, end, (tf - up) / down)
                }
            }
            ScheduleKind::Linear {
                total_steps,
                warmup_steps,
            } => {
                let (total, w) = (*total_steps as f64, *warmup_steps as f64);
                if tf < w {
                    lr0 * tf / w
                } else {
                    lr0 * ((total - tf) / (total - w).max(1.0)).max(0.0)
                }
            }
            ScheduleKind::LinearScaling {
                scale,
                warmup_steps,
                milestones,
                gamma,
            } => {
                let w = *warmup_steps as f64;
                if tf < w {
                    lr0 * (1.0 + (scale - 1.0) * tf / w)
                } else {
                    let decays = milestones.iter().filter(|&&m| m <= t).count();
                    lr0 * scale * gamma.powi(decays as i32)
                }
            }
            ScheduleKind::PiecewiseConstant { boundaries, values } => {
                let i = boundaries.iter().filter(|&&b| t > b).count();
                values[i.min(values.len() - 1)]
            }
        };
        lr as f32
    }

    /// Rejects schedules that cannot be evaluated.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, expected: &str, got: String| {
            Err(Error::config(format!("lr_schedule {what}"), expected, got))
        };
        match &self.kind {
            ScheduleKind::Step { step_size: 0, .. } => {
                bad("step_size", "a positive integer", "0".into())
            }
            ScheduleKind::MultiStep { milestones, .. }
            | ScheduleKind::LinearScaling { milestones, .. }
                if milestones.windows(2).any(|w| w[0] >= w[1]) =>
            {
                bad("milestones", "increasing times", format!("{milestones:?}"))
            }
            ScheduleKind::Exponential { decay_steps: 0, .. }
            | ScheduleKind::InverseTime { decay_steps: 0, .. }
            | ScheduleKind::Polynomial { decay_steps: 0, .. }
            | ScheduleKind::Cosine { decay_steps: 0, .. } => {
                bad("decay_steps", "a positive integer", "0".into())
            }
            ScheduleKind::OneCycle {
                total_steps,
                pct_start,
                ..
            } if *total_steps < 2 || !(0.0..1.0).contains(pct_start) => bad(
                "one_cycle",
                "total_steps >= 2 and pct_start in [0, 1)",
                format!("total_steps = {total_steps}, pct_start = {pct_start}"),
            ),
            ScheduleKind::Linear {
                total_steps,
                warmup_steps,
            } if warmup_steps >= total_steps => bad(
                "linear",
                "warmup_steps < total_steps",
                format!("warmup_steps = {warmup_steps}, total_steps = {total_steps}"),
            ),
            ScheduleKind::LinearScaling { scale, .. } if !(scale.is_finite() && *scale > 0.0) => {
                bad(
                    "linear_scaling scale",
                    "a positive number",
                    format!("{scale}"),
                )
            }
            ScheduleKind::PiecewiseConstant { boundaries, values }
                if values.len() != boundaries.len() + 1 =>
            {
                bad(
                    "piecewise_constant values",
                    "one more value than boundaries",
                    format!(
                        "{} boundaries and {} values",
                        boundaries.len(),
                        values.len()
                    ),
                )
            }
            _ => Ok(()),
        }
    }
}

fn periods(t: f64, steps: u64, staircase: bool) -> f64 {
    let p = t / steps.max(1) as f64;
    if staircase {
        p.floor()
    } else {
        p
    }
}

/// `(time into the current period, its length, its peak factor)` of a cosine with restarts.
fn cosine_phase(t: f64, first: f64, restarts: bool, t_mul: f64, m_mul: f64) -> (f64, f64, f64) {
    if !restarts {
        return (t, first.max(1.0), 1.0);
    }
    let (mut start, mut period, mut peak) = (0.0, first.max(1.0), 1.0);
    while t >= start + period {
        start += period;
        period *= t_mul.max(1.0);
        peak *= m_mul;
    }
    (t - start, period, peak)
}
