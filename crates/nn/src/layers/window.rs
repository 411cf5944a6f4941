//! Window settings shared by convolution and pooling layers: a size given as one number or
//! two (`kernel_size = 3` or `[3, 5]`), and `padding` as `"valid"` (none), `"same"` (output
//! size `ceil(input / stride)`, the extra on the bottom/right, as Keras and TensorFlow) or
//! explicit numbers (`[p]`, `[ph, pw]` or `[top, bottom, left, right]`, as PyTorch).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A height × width pair, written as one number or two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair(pub usize, pub usize);

impl Serialize for Pair {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == self.1 {
            s.serialize_u64(self.0 as u64)
        } else {
            [self.0, self.1].serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        let one = |v: &Value| v.as_u64().map(|n| n as usize);
        match &v {
            Value::Number(_) => one(&v).map(|n| Pair(n, n)),
            Value::Array(a) if a.len() == 2 => one(&a[0]).zip(one(&a[1])).map(|(h, w)| Pair(h, w)),
            _ => None,
        }
        .ok_or_else(|| {
            D::Error::custom(format!(
                "expected a positive integer or [height, width], received {v}"
            ))
        })
    }
}

impl From<usize> for Pair {
    fn from(n: usize) -> Pair {
        Pair(n, n)
    }
}

impl From<(usize, usize)> for Pair {
    fn from((h, w): (usize, usize)) -> Pair {
        Pair(h, w)
    }
}

/// How the input is padded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Padding {
    /// No padding (Keras's default).
    #[default]
    Valid,
    /// Enough zeros for `ceil(input / stride)` outputs.
    Same,
    /// `[top, bottom, left, right]`.
    Explicit([usize; 4]),
}

impl Padding {
    /// `(top, bottom, left, right)` for an input `h × w`, window `k`, stride `s`, dilation `d`.
    pub fn amounts(
        &self,
        h: usize,
        w: usize,
        k: Pair,
        s: Pair,
        d: Pair,
    ) -> (usize, usize, usize, usize) {
        match self {
            Padding::Valid => (0, 0, 0, 0),
            Padding::Explicit([t, b, l, r]) => (*t, *b, *l, *r),
            Padding::Same => {
                let total = |n: usize, k: usize, s: usize, d: usize| {
                    let out = n.div_ceil(s.max(1));
                    ((out.saturating_sub(1)) * s + d * (k - 1) + 1).saturating_sub(n)
                };
                let (th, tw) = (total(h, k.0, s.0, d.0), total(w, k.1, s.1, d.1));
                (th / 2, th - th / 2, tw / 2, tw - tw / 2)
            }
        }
    }
}

impl Serialize for Padding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Padding::Valid => s.serialize_str("valid"),
            Padding::Same => s.serialize_str("same"),
            Padding::Explicit(p) => p.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Padding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        let nums: Option<Vec<usize>> = v
            .as_array()
            .and_then(|a| a.iter().map(|x| x.as_u64().map(|n| n as usize)).collect());
        match (v.as_str(), nums.as_deref()) {
            (Some("valid"), _) => Ok(Padding::Valid),
            (Some("same"), _) => Ok(Padding::Same),
            (_, Some([p])) => Ok(Padding::Explicit([*p; 4])),
            (_, Some([h, w])) => Ok(Padding::Explicit([*h, *h, *w, *w])),
            (_, Some([t, b, l, r])) => Ok(Padding::Explicit([*t, *b, *l, *r])),
            _ => Err(D::Error::custom(format!(
                "padding: expected \"valid\", \"same\", [p], [ph, pw] or [top, bottom, left, right], received {v}"
            ))),
        }
    }
}

/// How a sequence is padded (1-d layers): `"valid"`, `"same"`, `"causal"` (all the zeros
/// before the start, so output `t` sees inputs up to `t` only, as Keras) or `p` / `[left, right]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Padding1d {
    /// No padding.
    #[default]
    Valid,
    /// Enough zeros for `ceil(length / stride)` outputs.
    Same,
    /// `dilation·(kernel - 1)` zeros on the left.
    Causal,
    /// `[left, right]`.
    Explicit(usize, usize),
}

impl Padding1d {
    /// `(left, right)` for a sequence of length `n`, window `k`, stride `s`, dilation `d`.
    pub fn amounts(&self, n: usize, k: usize, s: usize, d: usize) -> (usize, usize) {
        match self {
            Padding1d::Valid => (0, 0),
            Padding1d::Causal => (d * k.saturating_sub(1), 0),
            Padding1d::Explicit(l, r) => (*l, *r),
            Padding1d::Same => {
                let (_, _, l, r) = Padding::Same.amounts(1, n, Pair(1, k), Pair(1, s), Pair(1, d));
                (l, r)
            }
        }
    }

    /// As the 2-d padding of a `1 × n` image.
    pub fn to_2d(&self, n: usize, k: usize, s: usize, d: usize) -> Padding {
        let (l, r) = self.amounts(n, k, s, d);
        Padding::Explicit([0, 0, l, r])
    }
}

impl Serialize for Padding1d {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Padding1d::Valid => s.serialize_str("valid"),
            Padding1d::Same => s.serialize_str("same"),
            Padding1d::Causal => s.serialize_str("causal"),
            Padding1d::Explicit(l, r) => [*l, *r].serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Padding1d {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        let n = |v: &Value| v.as_u64().map(|n| n as usize);
        match (&v, v.as_str()) {
            (_, Some("valid")) => Ok(Padding1d::Valid),
            (_, Some("same")) => Ok(Padding1d::Same),
            (_, Some("causal")) => Ok(Padding1d::Causal),
            (Value::Number(_), _) if n(&v).is_some() => {
                let p = n(&v).unwrap_or(0);
                Ok(Padding1d::Explicit(p, p))
            }
            (Value::Array(a), _) if a.len() == 2 && a.iter().all(|x| n(x).is_some()) => Ok(
                Padding1d::Explicit(n(&a[0]).unwrap_or(0), n(&a[1]).unwrap_or(0)),
            ),
            _ => Err(D::Error::custom(format!(
                "padding: expected \"valid\", \"same\", \"causal\", p or [left, right], received {v}"
            ))),
        }
    }
}

pub(crate) fn one() -> Pair {
    Pair(1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_keras() {
        // 28 wide, kernel 3, stride 1: 1 + 1; stride 2 on 5: out 3, total 2
        assert_eq!(
            Padding::Same.amounts(28, 28, Pair(3, 3), one(), one()),
            (1, 1, 1, 1)
        );
        assert_eq!(
            Padding::Same.amounts(5, 6, Pair(3, 3), Pair(2, 2), one()),
            (1, 1, 0, 1)
        );
        let p: Padding = serde_json::from_str("[1, 2]").unwrap();
        assert_eq!(p, Padding::Explicit([1, 1, 2, 2]));
        assert!(serde_json::from_str::<Padding>("\"full\"")
            .unwrap_err()
            .to_string()
            .contains("\"valid\", \"same\""));
        assert_eq!(serde_json::from_str::<Pair>("[3, 5]").unwrap(), Pair(3, 5));
    }
}
