//! W5's text classification data: which of the nine embedded Shakespeare plays a passage is
//! from. A play starts two lines above its `by William Shakespeare` line and runs to the next
//! play's start; each is cut into consecutive 512-character chunks (a last partial chunk
//! dropped), labelled by the play's index in the file; the chunks are shuffled with NumPy's
//! `default_rng(0).permutation`, and the last 15% are the test set (exactly as
//! `shared/bench/bert_bench.py` makes them).

use crate::error::{Error, Result};
use crate::numpy_rng::numpy_permutation;

/// Passages and their classes.
#[derive(Clone, Debug, PartialEq)]
pub struct TextClasses {
    /// Training passages.
    pub train_texts: Vec<String>,
    /// Their class indices.
    pub train_labels: Vec<usize>,
    /// Test passages.
    pub test_texts: Vec<String>,
    /// Their class indices.
    pub test_labels: Vec<usize>,
    /// The class names, by index.
    pub names: Vec<String>,
}

/// The plays, in the order of the file.
const PLAYS: [&str; 9] = [
    "King Lear",
    "Hamlet",
    "Macbeth",
    "Othello",
    "Romeo and Juliet",
    "Julius Caesar",
    "The Tempest",
    "Twelfth Night",
    "Richard III",
];

/// W5's passages of `chunk` characters (512 in W5), `test_fraction` (0.15) held out.
pub fn shakespeare_plays(chunk: usize, test_fraction: f64) -> Result<TextClasses> {
    let (text, _) = crate::text::shakespeare()?;
    let lines: Vec<&str> = text.split('\n').collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == "by William Shakespeare")
        .map(|(i, _)| i.saturating_sub(2))
        .collect();
    if starts.len() != PLAYS.len() || chunk == 0 {
        return Err(Error::Shape(format!(
            "shakespeare plays: expected {} plays and a chunk > 0, found {} plays, chunk {chunk}",
            PLAYS.len(),
            starts.len()
        )));
    }
    let (mut texts, mut labels) = (Vec::new(), Vec::new());
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(lines.len());
        let play: Vec<char> = lines[s..end].join("\n").chars().collect();
        for c in (0..(play.len() + 1).saturating_sub(chunk)).step_by(chunk) {
            texts.push(play[c..c + chunk].iter().collect::<String>());
            labels.push(k);
        }
    }
    let perm = numpy_permutation(texts.len(), 0);
    let n_test = (texts.len() as f64 * test_fraction) as usize;
    let cut = texts.len() - n_test;
    let pick = |r: std::ops::Range<usize>| -> (Vec<String>, Vec<usize>) {
        perm[r]
            .iter()
            .map(|&i| (texts[i].clone(), labels[i]))
            .unzip()
    };
    let (train_texts, train_labels) = pick(0..cut);
    let (test_texts, test_labels) = pick(cut..texts.len());
    Ok(TextClasses {
        train_texts,
        train_labels,
        test_texts,
        test_labels,
        names: PLAYS.iter().map(|s| s.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    /// The sizes WORKLOADS.md gives: 2,040 training and 359 test passages of 512 characters.
    #[test]
    fn w5_split() {
        let p = super::shakespeare_plays(512, 0.15).unwrap();
        assert_eq!((p.train_texts.len(), p.test_texts.len()), (2040, 359));
        assert!(p.train_texts.iter().all(|t| t.chars().count() == 512));
        assert!(p.test_labels.iter().all(|&l| l < 9));
        let mut seen = [false; 9];
        p.test_labels.iter().for_each(|&l| seen[l] = true);
        assert!(seen.iter().all(|&s| s), "every play in the test set");
        // as bert_bench.py's passages() gives them (NumPy's permutation)
        assert_eq!(p.train_labels[..10], [6, 6, 2, 5, 4, 4, 5, 4, 5, 3]);
        assert_eq!(p.test_labels[..10], [0, 2, 2, 0, 5, 1, 2, 0, 0, 7]);
        assert!(p.train_texts[0].starts_with("ll give language to you, cat. Open your\nmouth"));
    }
}
