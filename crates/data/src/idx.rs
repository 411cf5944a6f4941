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

/// The most bytes a compressed IDX file may unpack to (4 GiB): its header announces the
/// size, and a small file must not unpack to terabytes.
pub const MAX_UNPACKED_BYTES: usize = 1 << 32;

/// Parses IDX bytes (gzip or raw); the error says what was expected and received.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    let raw;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        raw = gunzip(bytes)?;
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

/// Unpacks a gzip IDX file by what its header announces: the header, then at most the
/// announced data and one byte more (so a longer stream shows as a size mismatch), never
/// more than [`MAX_UNPACKED_BYTES`].
fn gunzip(bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let corrupt = |e: std::io::Error| format!("gzip stream is corrupt or truncated ({e})");
    let mut z = flate2::read::GzDecoder::new(bytes);
    let mut out = vec![0u8; 4];
    z.read_exact(&mut out).map_err(corrupt)?;
    let ndim = out[3] as usize;
    out.resize(4 + 4 * ndim, 0);
    z.read_exact(&mut out[4..]).map_err(corrupt)?;
    let announced = (0..ndim)
        .map(|i| u32::from_be_bytes(out[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .try_fold(1usize, |a, d| a.checked_mul(d))
        .filter(|&n| n <= MAX_UNPACKED_BYTES)
        .ok_or_else(|| {
            format!(
                "a gzip IDX file announcing more than {MAX_UNPACKED_BYTES} bytes (4 GiB) of data: unpack it first"
            )
        })?;
    z.take(announced as u64 + 1)
        .read_to_end(&mut out)
        .map_err(corrupt)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(raw: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(raw).unwrap();
        e.finish().unwrap()
    }

    /// A small gzip file is unpacked only as far as its header announces, and a header
    /// announcing more than the cap is refused before anything is unpacked.
    #[test]
    fn a_gzip_file_unpacks_only_what_its_header_announces() {
        let mut f = vec![0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9];
        assert_eq!(parse_idx(&gz(&f)).unwrap().data, [7, 8, 9]);
        // 1 MB of zeros after a header announcing 3 bytes: read no further than 4
        f.extend(vec![0u8; 1 << 20]);
        let e = parse_idx(&gz(&f)).unwrap_err();
        assert!(e.contains("needs 3 bytes, received 4"), "{e}");
        // 2^20 · 2^20 · 2^10 bytes announced by a 40-byte file
        let bomb = [
            0u8, 0, 8, 3, 0, 16, 0, 0, 0, 16, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0,
        ];
        let e = parse_idx(&gz(&bomb)).unwrap_err();
        assert!(e.contains("4 GiB"), "{e}");
        let e = parse_idx(&gz(&f)[..30]).unwrap_err();
        assert!(e.contains("corrupt or truncated"), "{e}");
    }

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
