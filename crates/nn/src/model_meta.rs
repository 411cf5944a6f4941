//! What a model file keeps besides weights and architecture: a text model's tokenizer, a
//! classifier's class names, the Hugging Face config it came from, and how its training
//! data was read. Each is saved as a metadata entry of the `.safetensors` file (saving.rs)
//! and comes back with [`Model::load`].

use crate::model::Model;

impl Model {
    /// Keeps a text model's tokenizer (serialised, e.g. a `CharTokenizer`'s JSON) with the
    /// model: it is saved inside the model file and comes back with [`Model::load`].
    pub fn set_tokenizer(&mut self, json: impl Into<String>) {
        self.tokenizer = Some(json.into());
    }

    /// The tokenizer saved with the model, if any.
    pub fn tokenizer(&self) -> Option<&str> {
        self.tokenizer.as_deref()
    }

    /// Keeps the names of a classifier's classes (CSV text labels, image folders), by class
    /// index; saved inside the model file.
    pub fn set_class_names(&mut self, names: Vec<String>) {
        self.class_names = Some(names);
    }

    /// The class names saved with the model, if any.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// Keeps the Hugging Face `config.json` (its text) the model was built from; saved inside
    /// the model file, read by `nabla export --hf`.
    pub fn set_hf_config(&mut self, json: String) {
        self.hf_config = Some(json);
    }

    /// Keeps how the training data was read (a JSON object, e.g. the CSV columns and the
    /// normalisation), saved inside the model file so that `nabla predict` and `nabla
    /// evaluate` read new files the same way.
    pub fn set_data_recipe(&mut self, json: String) {
        self.data_recipe = Some(json);
    }

    /// How the training data was read, if the model file says.
    pub fn data_recipe(&self) -> Option<&str> {
        self.data_recipe.as_deref()
    }

    /// The Hugging Face config saved with the model, if any.
    pub fn hf_config(&self) -> Option<&str> {
        self.hf_config.as_deref()
    }
}
