//! Text as training data for next-token prediction, and the embedded Shakespeare plays.
//!
//! [`windows`] cuts token ids into samples of `context` tokens whose targets are the same
//! window shifted by one: `x = ids[s..s+T]`, `y = ids[s+1..s+T+1]` for starts
//! `s = 0, stride, 2·stride, ..` (every target position is a prediction, as GPT trains).

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::tokenizer::CharTokenizer;
use std::io::Read;

const PLAYS: &[u8] = include_bytes!("../../../data/shakespeare/plays.txt.gz");

/// The samples `x [T]`, `y [T]` (token ids as numbers) of windows over `ids`.
pub fn windows(ids: &[usize], context: usize, stride: usize) -> Result<Dataset> {
    if context == 0 || stride == 0 || ids.len() < context + 1 {
        return Err(Error::Shape(format!(
            "text windows: expected context and stride > 0 and more than context = {context} tokens, received {} tokens (stride {stride})",
            ids.len()
        )));
    }
    let starts: Vec<usize> = (0..=ids.len() - context - 1).step_by(stride).collect();
    let mut x = Vec::with_capacity(starts.len() * context);
    let mut y = Vec::with_capacity(starts.len() * context);
    for &s in &starts {
        x.extend(ids[s..s + context].iter().map(|&i| i as f32));
        y.extend(ids[s + 1..s + context + 1].iter().map(|&i| i as f32));
    }
    Dataset::new(x, &[context], y, &[context])
}

/// The nine Shakespeare plays embedded in the binary (data/shakespeare, provenance in
/// data/README.md): `(text, tokenizer)` with the vocabulary of the whole text (76 characters).
pub fn shakespeare() -> Result<(String, CharTokenizer)> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(PLAYS)
        .read_to_string(&mut text)
        .map_err(|e| Error::File {
            path: "<embedded shakespeare>".into(),
            msg: format!("cannot decompress: {e}"),
        })?;
    let tok = CharTokenizer::from_text(&text);
    Ok((text, tok))
}

/// The plays split by the convention of ../shared/bench: the first 90% of the characters for
/// training, the last 10% for validation, as token ids.
pub fn shakespeare_ids() -> Result<(Vec<usize>, Vec<usize>, CharTokenizer)> {
    let (text, tok) = shakespeare()?;
    let ids = tok.encode(&text)?;
    let cut = ids.len() * 9 / 10;
    Ok((ids[..cut].to_vec(), ids[cut..].to_vec(), tok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_shift_targets_by_one() {
        let ids: Vec<usize> = (0..10).collect();
        let d = windows(&ids, 4, 3).unwrap();
        // starts 0, 3 (5 would need ids up to 9 + 1)
        assert_eq!(d.len(), 2);
        assert_eq!(d.x(), [0., 1., 2., 3., 3., 4., 5., 6.]);
        assert_eq!(d.y(), [1., 2., 3., 4., 4., 5., 6., 7.]);
        assert!(windows(&ids, 10, 1).is_err());
    }

    #[test]
    fn the_embedded_plays() {
        let (text, tok) = shakespeare().unwrap();
        assert_eq!(text.len(), 1_230_753);
        assert_eq!(tok.vocab_size(), 76);
        assert!(text.starts_with("THE TRAGEDY OF KING LEAR"));
        let (train, val, _) = shakespeare_ids().unwrap();
        assert_eq!(train.len() + val.len(), 1_230_753);
        assert_eq!(train.len(), 1_230_753 * 9 / 10);
    }
}
