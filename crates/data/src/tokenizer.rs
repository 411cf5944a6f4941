//! `CharTokenizer`: a character-level vocabulary built from a text (its distinct characters,
//! sorted), mapping text to token ids and back. Serialisable, so it is saved with a model.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The characters of a text, sorted; a character's id is its position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharTokenizer {
    chars: Vec<char>,
}

impl CharTokenizer {
    /// The vocabulary of `text`: its distinct characters in sorted order.
    pub fn from_text(text: &str) -> CharTokenizer {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        CharTokenizer { chars }
    }

    /// Number of tokens.
    pub fn vocab_size(&self) -> usize {
        self.chars.len()
    }

    /// The token ids of `text`; a character outside the vocabulary is an error naming it.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.chars()
            .map(|c| {
                self.chars.binary_search(&c).map_err(|_| {
                    Error::Shape(format!(
                        "tokenizer: character {c:?} is not in the vocabulary of {} characters ({:?}..{:?})",
                        self.chars.len(),
                        self.chars.first().unwrap_or(&' '),
                        self.chars.last().unwrap_or(&' ')
                    ))
                })
            })
            .collect()
    }

    /// The text of token ids; an id outside the vocabulary is an error naming it.
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        ids.iter()
            .map(|&i| {
                self.chars.get(i).copied().ok_or_else(|| {
                    Error::Shape(format!(
                        "tokenizer: id {i} outside the vocabulary of {} characters",
                        self.chars.len()
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_unknown_characters() {
        let t = CharTokenizer::from_text("ROMEO: hello\n");
        // '\n', ' ', ':', 'E', 'M', 'O', 'R', 'e', 'h', 'l', 'o'
        assert_eq!(t.vocab_size(), 11);
        let ids = t.encode("hello ROMEO").unwrap();
        assert_eq!(t.decode(&ids).unwrap(), "hello ROMEO");
        let e = t.encode("Juliet").unwrap_err().to_string();
        assert!(e.contains("'J'"), "{e}");
        assert!(t.decode(&[11]).unwrap_err().to_string().contains("id 11"));
    }
}
