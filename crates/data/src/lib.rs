//! nabla-data: the in-memory [`Dataset`], the [`DataLoader`] (batches, seeded shuffle), the
//! IDX reader and the built-in [`mnist`] digits embedded in the binary.

pub mod augment;
pub mod class_folders;
pub mod csv_reader;
pub mod dataset;
pub mod error;
pub mod idx;
pub mod image_file;
pub mod image_folder;
pub mod loader;
pub mod mnist;
pub mod numpy_rng;
pub mod plays;
pub mod text;
pub mod tokenizer;

pub use augment::{AugmentConfig, Normalize, Pipeline};
pub use class_folders::{read_text_folder, TextFolder};
pub use csv_reader::{read_csv, read_csv_for, CsvData, CsvSpec, TEXT_ROW};
pub use dataset::{Array, Dataset};
pub use error::{Error, Result};
pub use image_file::read_image;
pub use image_folder::read_image_folder;
pub use loader::{shard_range, DataLoader};
pub use mnist::mnist;
pub use numpy_rng::numpy_permutation;
pub use plays::{shakespeare_plays, TextClasses};
pub use text::{shakespeare, shakespeare_ids, windows};
pub use tokenizer::CharTokenizer;
