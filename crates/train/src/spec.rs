//! The TOML spec read by `nabla train`: `[data]`, `[model]` and `[train]` tables, documented
//! field by field in docs/spec.md.

use crate::error::{Error, Result};
use crate::fit::Fit;
use nabla_data::{idx::read_idx_file, mnist, Array, AugmentConfig, CsvSpec, Dataset, Normalize};
use nabla_nn::{
    CompileConfig, Loss, LossSpec, Metric, Model, ModelConfig, OptimizerConfig, PerOutput,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A whole training spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Where the data comes from.
    #[serde(default)]
    pub data: DataSpec,
    /// The architecture.
    pub model: ModelConfig,
    /// How to train.
    pub train: TrainSpec,
    /// Magnitude pruning during training (`nabla train` adds the pruning hook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<nabla_nn::PruneConfig>,
    /// The hyper-parameter search of `nabla tune` (read by nabla-tune; `nabla train`
    /// ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<toml::Table>,
}

/// The `[data]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// A built-in dataset: `"mnist"` (the default), or `"shakespeare_plays"` (W5's passages
    /// of the nine embedded plays, for a `[model] pretrained` text classifier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// IDX files instead of a built-in dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idx: Option<IdxSpec>,
    /// A CSV file instead of a built-in dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvSpec>,
    /// An image folder (one sub-folder per class) instead of a built-in dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<PathBuf>,
    /// Test images, a folder like `images` with the same class folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_images: Option<PathBuf>,
    /// Text classification instead of a built-in dataset: one sub-folder per class of `.txt`
    /// files, tokenised by a `[model] pretrained` encoder's tokenizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_folder: Option<PathBuf>,
    /// Test texts, a folder like `text_folder` with the same class folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_text_folder: Option<PathBuf>,
    /// Text for next-token prediction instead of a built-in dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextSpec>,
    /// Fraction of the training data held out for validation (default 0).
    #[serde(default)]
    pub validation_split: f32,
    /// Random transforms of the training images (Keras's `ImageDataGenerator` names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<AugmentConfig>,
    /// Per-channel standardisation of all the data (training and test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<Normalize>,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            dataset: None,
            idx: None,
            csv: None,
            images: None,
            test_images: None,
            text_folder: None,
            test_text_folder: None,
            text: None,
            validation_split: 0.0,
            augment: None,
            normalize: None,
        }
    }
}

/// Text cut into next-token windows (`x = ids[s..s+T]`, `y = ids[s+1..s+T+1]`) over a
/// character vocabulary; the last `test_split` of the characters is the test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSpec {
    /// `"shakespeare"`: the embedded plays (vocabulary of the whole file, 76 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus: Option<String>,
    /// A UTF-8 text file instead (vocabulary: its distinct characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Tokens per window (the model's input length).
    pub context: usize,
    /// Tokens between window starts (default: `context`, no overlap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    /// Fraction of the text, from its end, for the test split (default 0.1).
    #[serde(default = "tenth")]
    pub test_split: f32,
}

fn one_step() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn tenth() -> f32 {
    0.1
}

impl TextSpec {
    /// The text's `(train ids, test ids, tokenizer)`.
    pub fn ids(&self) -> Result<(Vec<usize>, Vec<usize>, nabla_data::CharTokenizer)> {
        let (text, tok) = match (&self.corpus, &self.path) {
            (Some(c), None) if c == "shakespeare" => nabla_data::shakespeare()?,
            (None, Some(p)) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Error::Spec(format!("data.text.path: cannot read {} as UTF-8 text: {e}", p.display()))
                })?;
                let tok = nabla_data::CharTokenizer::from_text(&text);
                (text, tok)
            }
            _ => {
                return Err(Error::Spec(format!(
                    "data.text: expected corpus = \"shakespeare\" or path = \"file.txt\", received corpus {:?}, path {:?}",
                    self.corpus, self.path
                )))
            }
        };
        let ids = tok.encode(&text)?;
        let cut = ((ids.len() as f64) * (1.0 - self.test_split as f64)) as usize;
        Ok((ids[..cut].to_vec(), ids[cut..].to_vec(), tok))
    }
}

/// IDX files (gzip or raw): images `[n, h, w]` (pixels scaled by 1/255) and labels `[n]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdxSpec {
    /// Training images.
    pub train_images: PathBuf,
    /// Training labels.
    pub train_labels: PathBuf,
    /// Test images (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_images: Option<PathBuf>,
    /// Test labels (optional, with `test_images`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_labels: Option<PathBuf>,
}

/// The `[train]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// The optimiser: a name (`"adam"`, with its defaults) or a table (default: adam with
    /// PyTorch's defaults).
    #[serde(
        default = "default_optimizer",
        deserialize_with = "nabla_nn::optimizers::name_or_table"
    )]
    pub optimizer: OptimizerConfig,
    /// The loss: one for every output, or `{ main = "..", aux = ".." }` per output name.
    pub loss: PerOutput<LossSpec>,
    /// Metrics besides the loss: a list for every output, or one list per output name.
    #[serde(default)]
    pub metrics: PerOutput<Vec<Metric>>,
    /// The weight of each output's loss in the total: a number, or one per output name
    /// (default 1).
    #[serde(default = "unit", skip_serializing_if = "is_unit")]
    pub loss_weights: PerOutput<f32>,
    /// Passes over the training data (default 1).
    #[serde(default = "one")]
    pub epochs: usize,
    /// Samples per step (default 32).
    #[serde(default = "thirty_two")]
    pub batch_size: usize,
    /// Seed of initialisation, dropout and shuffling (default 42).
    #[serde(default = "forty_two")]
    pub seed: u64,
    /// Reshuffle every epoch (default true).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Copy weights, by layer name, from this saved model before training (transfer learning;
    /// layers missing from it or of another shape keep their initial weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_weights: Option<PathBuf>,
    /// Weight of each class in the loss, indexed by class (`[1.0, 5.0]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weight: Option<Vec<f32>>,
    /// How the learning rate changes (default: constant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_schedule: Option<nabla_nn::Schedule>,
    /// Callbacks run during training.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "crate::callbacks::callback_configs")]
    pub callbacks: Vec<crate::callbacks::CallbackConfig>,
    /// Clip gradients to this global norm before each step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_clipnorm: Option<f32>,
    /// Clip each gradient element to `[-clipvalue, clipvalue]` before each step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipvalue: Option<f32>,
    /// Micro-batches whose gradients are averaged into one step (default 1; Keras's name).
    #[serde(default = "one_step", skip_serializing_if = "is_one")]
    pub gradient_accumulation_steps: usize,
    /// Under `mpirun`: batch norm's statistics over the global batch, not each process's
    /// slice (PyTorch's `SyncBatchNorm`; default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sync_batch_norm: bool,
}

fn unit() -> PerOutput<f32> {
    PerOutput::All(1.0)
}

fn is_unit(w: &PerOutput<f32>) -> bool {
    *w == PerOutput::All(1.0)
}

fn default_optimizer() -> OptimizerConfig {
    OptimizerConfig::Adam(nabla_nn::Adam::default())
}
fn one() -> usize {
    1
}
fn thirty_two() -> usize {
    32
}
fn forty_two() -> u64 {
    42
}
fn yes() -> bool {
    true
}

impl Spec {
    /// Parses a spec from TOML text; errors carry line and column.
    pub fn from_toml(text: &str) -> Result<Spec> {
        let spec: Spec =
            toml::from_str(text).map_err(|e| Error::Spec(e.to_string().trim_end().to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads and parses a spec file; errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Spec> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Spec(format!("spec {}: cannot read: {e}", path.display())))?;
        Spec::from_toml(&text).map_err(|e| Error::Spec(format!("spec {}: {e}", path.display())))
    }

    /// The spec as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a spec is plain data")
    }

    fn validate(&self) -> Result<()> {
        let t = &self.train;
        if t.epochs == 0 {
            return Err(Error::Spec(
                "train.epochs: expected a positive integer, received 0".into(),
            ));
        }
        if t.gradient_accumulation_steps == 0 {
            return Err(Error::Spec(
                "train.gradient_accumulation_steps: expected a positive integer, received 0".into(),
            ));
        }
        if t.batch_size == 0 {
            return Err(Error::Spec(
                "train.batch_size: expected a positive integer, received 0".into(),
            ));
        }
        let vs = self.data.validation_split;
        if !(0.0..1.0).contains(&vs) {
            return Err(Error::Spec(format!(
                "data.validation_split: expected a fraction in [0, 1), received {vs}"
            )));
        }
        let sources = [
            self.data.dataset.is_some(),
            self.data.idx.is_some(),
            self.data.csv.is_some(),
            self.data.images.is_some(),
            self.data.text.is_some(),
            self.data.text_folder.is_some(),
        ];
        if sources.iter().filter(|&&s| s).count() > 1 {
            return Err(Error::Spec(
                "data: expected one of `dataset`, `idx`, `csv`, `images`, `text` or `text_folder`, received several"
                    .into(),
            ));
        }
        if self.data.test_text_folder.is_some() && self.data.text_folder.is_none() {
            return Err(Error::Spec(
                "data.test_text_folder: expected with `text_folder` (the training folder), received alone"
                    .into(),
            ));
        }
        if self.data.test_images.is_some() && self.data.images.is_none() {
            return Err(Error::Spec(
                "data.test_images: expected with `images` (the training folder), received alone"
                    .into(),
            ));
        }
        if let Some(c) = &self.data.csv {
            if !(0.0..1.0).contains(&c.test_split) {
                return Err(Error::Spec(format!(
                    "data.csv.test_split: expected a fraction in [0, 1), received {}",
                    c.test_split
                )));
            }
        }
        if let Some(name) = &self.data.dataset {
            if name != "mnist" && name != "shakespeare_plays" {
                return Err(Error::Spec(format!(
                    "data.dataset: unknown dataset '{name}', expected one of: mnist, shakespeare_plays"
                )));
            }
        }
        if let Some(a) = &self.data.augment {
            a.validate()?;
        }
        if let Some(t) = &self.data.text {
            if t.context == 0 || t.stride == Some(0) || !(0.0..1.0).contains(&t.test_split) {
                return Err(Error::Spec(format!(
                    "data.text: expected context and stride > 0 and test_split in [0, 1), received context {}, stride {:?}, test_split {}",
                    t.context, t.stride, t.test_split
                )));
            }
        }
        self.compile_config().optimizer.validate()?;
        for c in &self.train.callbacks {
            c.validate()?;
        }
        if let Some(s) = &self.train.lr_schedule {
            s.validate()?;
        }
        match &self.train.loss {
            PerOutput::All(l) => l.validate()?,
            PerOutput::Each(v) => v.iter().try_for_each(|(_, l)| l.validate())?,
        }
        Ok(())
    }

    /// Builds the model with `seed` and compiles it as the spec says.
    pub fn build_model(&self, seed: u64) -> Result<Model> {
        let mut model = match &self.model.pretrained {
            #[cfg(feature = "hub")]
            Some(_) => crate::pretrained::build(&self.model, seed)?,
            #[cfg(not(feature = "hub"))]
            Some(_) => {
                return Err(Error::Spec(
                    "model.pretrained: expected nabla built with the `hub` feature".into(),
                ))
            }
            None => self.model.build(seed)?,
        };
        model.compile_from_config(&self.compile_config())?;
        self.add_hooks(&mut model)?;
        Ok(model)
    }

    /// Adds the spec's gradient hooks (pruning) to a compiled model: a model built from the
    /// spec has them; one resumed from a checkpoint needs them again.
    pub fn add_hooks(&self, model: &mut Model) -> Result<()> {
        if let Some(p) = &self.prune {
            let hook = nabla_nn::Pruning::new(p.clone(), model)?;
            model.add_gradient_hook(hook)?;
        }
        Ok(())
    }

    /// The `compile` part of the spec.
    pub fn compile_config(&self) -> CompileConfig {
        CompileConfig {
            optimizer: self.train.optimizer.clone(),
            loss: self.train.loss.clone(),
            metrics: self.train.metrics.clone(),
            loss_weights: self.train.loss_weights.clone(),
            clipping: nabla_nn::Clipping {
                global_clipnorm: self.train.global_clipnorm,
                clipvalue: self.train.clipvalue,
            },
            lr_schedule: self.train.lr_schedule.clone(),
        }
    }

    /// The `fit` options of the spec (validation from `data.validation_split`).
    pub fn fit_options(&self) -> Fit<'static> {
        let fit = Fit::new();
        let fit = match &self.train.class_weight {
            Some(w) => fit.class_weight(w),
            None => fit,
        };
        let fit = match self.data.augment.as_ref().map(AugmentConfig::pipeline) {
            Some(Ok(p)) if !p.is_empty() => fit.augment(p),
            _ => fit, // off, or invalid (which `validate` reports when the spec is read)
        };
        let fit = match &self.data.text {
            Some(t) => fit.tokens_per_sample(t.context),
            None => fit,
        };
        fit.epochs(self.train.epochs)
            .accumulate(self.train.gradient_accumulation_steps)
            .batch_size(self.train.batch_size)
            .shuffle(self.train.shuffle)
            .validation_split(self.data.validation_split)
            .sync_batch_norm(self.train.sync_batch_norm)
    }

    /// The training and (if any) test data, with targets shaped for the loss.
    pub fn load_data(&self, model: &Model) -> Result<(Dataset, Option<Dataset>)> {
        self.load_data_and_classes(model)
            .map(|(train, test, _)| (train, test))
    }

    /// [`Spec::load_data`], and the class names of text labels, if the data has them.
    pub fn load_data_and_classes(
        &self,
        model: &Model,
    ) -> Result<(Dataset, Option<Dataset>, Option<Vec<String>>)> {
        let mut classes = None;
        let (train, test) = match (&self.data.idx, &self.data.csv) {
            _ if self.data.text.is_some() => {
                let t = self.data.text.as_ref().expect("checked");
                let (train, test, _) = t.ids()?;
                let stride = t.stride.unwrap_or(t.context);
                let train = nabla_data::windows(&train, t.context, stride)?;
                let test = if test.len() > t.context {
                    Some(nabla_data::windows(&test, t.context, t.context)?)
                } else {
                    None
                };
                (train, test)
            }
            _ if self.data.text_folder.is_some() => {
                let dir = self.data.text_folder.as_ref().expect("checked");
                let folder = nabla_data::read_text_folder(dir)?;
                let labels =
                    |l: &[usize]| vec![Array::new("y", l.iter().map(|&c| c as f32).collect(), &[])];
                let test = match &self.data.test_text_folder {
                    Some(t) => {
                        let t = nabla_data::read_text_folder(t)?;
                        if t.names != folder.names {
                            return Err(Error::Spec(format!(
                                "data.test_text_folder: expected the class folders {:?} of data.text_folder, received {:?}",
                                folder.names, t.names
                            )));
                        }
                        Some(tokenized(model, &t.texts, labels(&t.labels))?)
                    }
                    None => None,
                };
                let train = tokenized(model, &folder.texts, labels(&folder.labels))?;
                classes = Some(folder.names);
                (train, test)
            }
            _ if self.data.images.is_some() => {
                let shape = model.input_shape();
                let read = |dir: &PathBuf| -> Result<(Dataset, Vec<String>)> {
                    Ok(nabla_data::read_image_folder(dir, shape)?)
                };
                let (train, classes) = read(self.data.images.as_ref().expect("checked"))?;
                let test = match &self.data.test_images {
                    Some(dir) => {
                        let (test, test_classes) = read(dir)?;
                        if test_classes != classes {
                            return Err(Error::Spec(format!(
                                "data.test_images: expected the class folders {classes:?} of data.images, received {test_classes:?}"
                            )));
                        }
                        Some(test)
                    }
                    None => None,
                };
                (train, test)
            }
            (_, Some(csv)) => {
                let c = csv.read()?;
                classes = c.classes;
                let all = match c.texts {
                    Some(texts) => tokenized(model, &texts, c.dataset.targets().to_vec())?,
                    None => c.dataset,
                };
                if csv.test_split > 0.0 {
                    let (tr, te) = all.split_last(csv.test_split)?;
                    (tr, Some(te))
                } else {
                    (all, None)
                }
            }
            (None, None) if self.data.dataset.as_deref() == Some("shakespeare_plays") => {
                let p = nabla_data::shakespeare_plays(512, 0.15)?;
                let labels =
                    |l: &[usize]| vec![Array::new("y", l.iter().map(|&c| c as f32).collect(), &[])];
                classes = Some(p.names);
                (
                    tokenized(model, &p.train_texts, labels(&p.train_labels))?,
                    Some(tokenized(model, &p.test_texts, labels(&p.test_labels))?),
                )
            }
            (None, None) => {
                let (tr, te) = mnist()?;
                (tr, Some(te))
            }
            (Some(idx), None) => {
                let load = |images: &Path, labels: &Path| -> Result<Dataset> {
                    Ok(nabla_data::mnist::from_idx(
                        &read_idx_file(images)?,
                        &read_idx_file(labels)?,
                    )?)
                };
                let train = load(&idx.train_images, &idx.train_labels)?;
                let test = match (&idx.test_images, &idx.test_labels) {
                    (Some(i), Some(l)) => Some(load(i, l)?),
                    (None, None) => None,
                    _ => {
                        return Err(Error::Spec(
                            "data.idx: expected both test_images and test_labels, or neither"
                                .into(),
                        ))
                    }
                };
                (train, test)
            }
        };
        let prepare = |d: Dataset| -> Result<Dataset> {
            let d = match model.compiled() {
                Some(c) if d.targets().len() == 1 => data_for_model(d, &c.losses[0], model)?,
                _ => d,
            };
            Ok(match &self.data.normalize {
                Some(n) => n.apply(&d)?,
                None => d,
            })
        };
        let train = prepare(train)?;
        let test = test.map(prepare).transpose()?;
        Ok((train, test, classes))
    }
}

/// Texts tokenised by a pretrained model's tokenizer (with the `hub` feature).
fn tokenized(model: &Model, texts: &[String], targets: Vec<Array>) -> Result<Dataset> {
    #[cfg(feature = "hub")]
    return crate::pretrained::tokenized(model, texts, targets);
    #[cfg(not(feature = "hub"))]
    {
        let _ = (model, texts, targets);
        Err(Error::Spec(
            "data: text for a pretrained model needs nabla built with the `hub` feature".into(),
        ))
    }
}

/// Fits data to a model: samples of the right size seen with the model's input shape
/// (`[28, 28]` as `[1, 28, 28]`), and class-index targets one-hot encoded when the loss wants
/// one row per sample (categorical cross-entropy), as Keras users do with `to_categorical`.
pub fn data_for_model(data: Dataset, loss: &LossSpec, model: &Model) -> Result<Dataset> {
    // images [28, 28] for a model taking [1, 28, 28]: same values, the model's view
    let data = if data.x_shape() != model.input_shape()
        && data.x_shape().iter().product::<usize>() == model.input_shape().iter().product::<usize>()
    {
        data.with_x_shape(model.input_shape())?
    } else {
        data
    };
    let classes = model.output_shape().last().copied().unwrap_or(1);
    if loss.kind == Loss::CategoricalCrossentropy && data.y_shape().is_empty() {
        return Ok(data.one_hot(classes)?);
    }
    Ok(data)
}
