//! The IDX format of MNIST (LeCun): a big-endian header `0x00 0x00 <type> <ndim>`, `ndim`
//! u32 sizes, then the data. Reads unsigned-byte files, raw or gzip-compressed (detected by
//! the gzip magic `1f 8b`), and checks the header against the data length.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// An unsigned-byte IDX array: its dimensions and values.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// Sizes, outermost first (`[10000, 28, 28]`).
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file from disk (gzip or raw).
pub fn read_idx_file(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::File {
        path: path.display().to_string(),
        msg: format!("cannot read: {e}"),
    })?;
    parse_idx(&bytes).map_err(|msg| Error::File {
        path: path.display().to_string(),
        msg,
    })
}

/// Parses IDX bytes (gzip or raw); the error says what was expected and received.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    let raw;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip stream is corrupt or truncated ({e})"))?;
        raw = out;
        &raw[..]
    } else {
        bytes
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "not an IDX file: expected magic 00 00 <type> <ndim>, received {:02x?}",
            &bytes[..bytes.len().min(4)]
        ));
    }
    if bytes[2] != 0x08 {
        return Err(format!(
            "unsupported IDX element type 0x{:02x}: expected 0x08 (unsigned byte)",
            bytes[2]
        ));
    }
    let ndim = bytes[3] as usize;
    let header = 4 + 4 * ndim;
    if ndim == 0 || bytes.len() < header {
        return Err(format!(
            "IDX header truncated: expected {header} bytes for {ndim} dimensions, received {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    // checked: dimensions whose product wraps (to exactly 2^64, say) must not pass as empty
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            format!("IDX dimensions {dims:?}: expected at most 2^64 bytes in all, received more")
        })?;
    let data = &bytes[header..];
    if data.len() != n {
        return Err(format!(
            "IDX data size mismatch: header {dims:?} needs {n} bytes, received {}",
            data.len()
        ));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let mut f = vec![0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3];
        f.extend([1, 2, 3, 4, 5, 6]);
        let a = parse_idx(&f).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
        let e = parse_idx(&f[..15]).unwrap_err();
        assert!(e.contains("needs 6 bytes, received 3"), "{e}");
        assert!(parse_idx(b"PK\x03\x04")
            .unwrap_err()
            .contains("not an IDX file"));
        // 2^16 · 2^16 · 2^16 · 2^16 = 2^64 wraps to 0 in unchecked arithmetic: an empty payload
        // passed as a valid array
        let huge = [0u8, 0, 8, 4, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0];
        let e = parse_idx(&huge).unwrap_err();
        assert!(e.contains("at most 2^64 bytes"), "{e}");
        let mut wrong_type = f.clone();
        wrong_type[2] = 0x0d;
        assert!(parse_idx(&wrong_type).unwrap_err().contains("0x0d"));
    }
}
