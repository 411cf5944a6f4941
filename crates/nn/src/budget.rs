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

/// The bytes a model's weights may take together, and a batch's layer outputs together:
/// `NABLA_MAX_MEMORY` when set to a positive integer, else this machine's memory (`MemTotal`
/// of `/proc/meminfo`), else 16 GiB. Read once per process (a server checks every request's
/// batch; /proc/meminfo costs tens of microseconds to read).
pub fn max_memory() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        let set = std::env::var("NABLA_MAX_MEMORY")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&v| v > 0);
        set.or_else(|| {
            let info = std::fs::read_to_string("/proc/meminfo").ok()?;
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        })
        .unwrap_or(16 << 30)
    })
}

/// Checks that a batch of `batch` samples fits before it is run: each layer's output for
/// the batch (`shapes`: name and per-sample shape of each) within [`max_values`], and all of
/// them together, which a training step keeps for its backward, within [`max_memory`].
/// Each sample's activation is bounded when the model is built; this bounds the batch.
pub fn check_batch<'a>(
    shapes: impl IntoIterator<Item = (&'a str, &'a [usize])>,
    batch: usize,
) -> Result<()> {
    let mut total: u128 = 0;
    for (name, shape) in shapes {
        let dims: Vec<usize> = std::iter::once(batch)
            .chain(shape.iter().copied())
            .collect();
        let n = checked_values(
            || format!("output of layer '{name}' for a batch of {batch}"),
            &dims,
        )?;
        total += n as u128;
    }
    let (bytes, max) = (total * 4, max_memory());
    if bytes > max as u128 {
        return Err(Error::config(
            format!("batch of {batch} samples"),
            format!(
                "layer outputs within {} (NABLA_MAX_MEMORY raises the limit; a smaller batch_size needs less)",
                gib(max as u128)
            ),
            format!("{} values, at least {}", total, gib(bytes)),
        ));
    }
    Ok(())
}

/// `bytes` in the largest binary unit below them, for messages.
fn gib(bytes: u128) -> String {
    let units = [(1u128 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    match units.iter().find(|(u, _)| bytes >= *u) {
        Some((u, name)) => format!("{:.1} {name}", bytes as f64 / *u as f64),
        None => format!("{bytes} bytes"),
    }
}

thread_local! {
    /// The bytes of the weights built so far by the model being built (see
    /// [`with_model_total`]).
    static MODEL_BYTES: Cell<Option<u128>> = const { Cell::new(None) };
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

/// Runs `f` (building a model) with the bytes of all its weights counted by
/// [`checked_weight`] and held to [`max_memory`], each weight before it is allocated (a
/// 1 KB spec of many 8 GiB layers is refused, not allocated). A model built inside another
/// (a model used as a layer) counts toward the outer total.
pub fn with_model_total<T>(f: impl FnOnce() -> T) -> T {
    if MODEL_BYTES.with(Cell::get).is_some() {
        return f();
    }
    MODEL_BYTES.with(|c| c.set(Some(0)));
    let out = f();
    MODEL_BYTES.with(|c| c.set(None));
    out
}

/// [`checked_values`] for a weight, also held to the limit of [`with_weight_limit`] and,
/// with the weights built before it, to the model's memory budget ([`with_model_total`]).
pub fn checked_weight(what: impl Fn() -> String, dims: &[usize]) -> Result<usize> {
    let n = checked_values(&what, dims)?;
    if let Some(before) = MODEL_BYTES.with(Cell::get) {
        let (total, max) = (before + 4 * n as u128, max_memory());
        if total > max as u128 {
            return Err(Error::config(
                what(),
                format!(
                    "the model's weights within {} (NABLA_MAX_MEMORY raises the limit)",
                    gib(max as u128)
                ),
                format!("{dims:?}, which brings them to {}", gib(total)),
            ));
        }
        MODEL_BYTES.with(|c| c.set(Some(total)));
    }
    match WEIGHT_LIMIT.with(Cell::get) {
        Some(limit) if n > limit => Err(Error::config(
            what(),
            format!("at most {limit} values (the largest tensor the model file stores)"),
            format!("{dims:?}, {n} values: the config does not match the stored weights"),
        )),
        _ => Ok(n),
    }
}
