//! nabla-data: the in-memory [`Dataset`], the [`DataLoader`] (batches, seeded shuffle), the
//! IDX reader and the built-in [`mnist`] digits embedded in the binary.

pub mod csv_reader;
pub mod dataset;
pub mod error;
pub mod idx;
pub mod loader;
pub mod mnist;

pub use csv_reader::{read_csv, CsvData, CsvSpec};
pub use dataset::Dataset;
pub use error::{Error, Result};
pub use loader::DataLoader;
pub use mnist::mnist;
