//! Size limits checked before anything is allocated. A spec or a model file declares sizes
//! (units, filters, vocabulary, input shapes, up-sampling factors), and a 1 KB file must not
//! make nabla allocate terabytes and abort: every weight and every sample's activation is
//! counted with checked arithmetic and held to a budget before its memory is asked for.

use crate::error::{Error, Result};
use std::cell::Cell;

/// The default budget: 2^31 values (8 GiB of f32) per weight and per sample's activation.
pub const DEFAULT_MAX_VALUES: usize = 1 << 31;

/// The most values one weight or one sample's activation may hold: `NABLA_MAX_VALUES` when
/// set to a positive integer (to raise or lower the limit), else [`DEFAULT_MAX_VALUES`].
pub fn max_values() -> usize {
    std::env::var("NABLA_MAX_VALUES")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(DEFAULT_MAX_VALUES)
}

/// The number of values of a tensor of shape `dims`, or an error naming `what` when the
/// product overflows or exceeds the budget.
pub fn checked_values(what: impl Fn() -> String, dims: &[usize]) -> Result<usize> {
    let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let max = max_values();
    match n {
        Some(n) if n <= max => Ok(n),
        _ => Err(Error::config(
            what(),
            format!("at most {max} values (NABLA_MAX_VALUES raises the limit)"),
            format!(
                "{dims:?}, {} values",
                n.map_or("more than 2^64".to_string(), |n| n.to_string())
            ),
        )),
    }
}

/// `a · b`, or an error naming `what` when it overflows.
pub fn checked_mul(what: impl Fn() -> String, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| {
        Error::config(
            what(),
            "a size that fits in memory",
            format!("{a} × {b}, past 2^64"),
        )
    })
}

thread_local! {
    /// The most values a weight may hold while a model file is loaded (see
    /// [`with_weight_limit`]).
    static WEIGHT_LIMIT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Runs `f` (building a model from a file's config) with every weight held to at most
/// `limit` values: each weight must match a tensor the file stores, so a config that asks for
/// a larger one is refused before its memory is allocated (not after, at the comparison).
pub fn with_weight_limit<T>(limit: usize, f: impl FnOnce() -> T) -> T {
    let before = WEIGHT_LIMIT.with(|l| l.replace(Some(limit)));
    let out = f();
    WEIGHT_LIMIT.with(|l| l.set(before));
    out
}

/// [`checked_values`] for a weight, also held to the limit of [`with_weight_limit`].
pub fn checked_weight(what: impl Fn() -> String, dims: &[usize]) -> Result<usize> {
    let n = checked_values(&what, dims)?;
    match WEIGHT_LIMIT.with(Cell::get) {
        Some(limit) if n > limit => Err(Error::config(
            what(),
            format!("at most {limit} values (the largest tensor the model file stores)"),
            format!("{dims:?}, {n} values: the config does not match the stored weights"),
        )),
        _ => Ok(n),
    }
}
