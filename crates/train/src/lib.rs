//! nabla-train: `fit`, `evaluate` and `predict` for any [`Model`](nabla_nn::Model) (the
//! [`Training`] extension trait), the [`History`], Keras-style progress, and the TOML [`Spec`]
//! that drives the CLI.

mod binding;
pub mod callback;
pub mod callbacks;
pub mod curves;
pub mod distributed;
pub mod error;
pub mod fit;
pub mod generate;
pub mod history;
pub mod logs;
pub mod metrics;
pub mod plot_model;
#[cfg(feature = "hub")]
mod pretrained;
pub mod progress;
pub mod report;
pub mod resume;
pub mod spec;
pub mod totals;
pub mod train_step;
pub mod trainer;
pub mod weights;

pub use callback::{Callback, TrainState};
pub use callbacks::{
    CallbackConfig, CsvLogger, EarlyStopping, LambdaCallback, LearningRateScheduler,
    ModelCheckpoint, ReduceLrOnPlateau, TerminateOnNaN,
};
pub use curves::plot_history;
pub use distributed::{AllReduce, Communicator};
pub use error::{Error, Result};
pub use fit::Fit;
pub use generate::Generate;
pub use history::History;
pub use logs::Logs;
pub use plot_model::plot_model;
pub use report::{class_report, ClassReport};
pub use resume::{resume, Resume};
pub use spec::Spec;
pub use train_step::{Batch, StandardStep, StepLogs, TrainStep};
pub use trainer::Training;
