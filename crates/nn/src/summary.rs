//! `summary()`: a table of layers, output shapes and parameter counts, as Keras prints it.

use crate::model::Model;

impl Model {
    /// The summary table as text.
    pub fn summary(&self) -> String {
        let mut rows = vec![(
            "Layer (type)".to_string(),
            "Output Shape".to_string(),
            "Param #".to_string(),
        )];
        let (mut trainable, mut frozen) = (0usize, 0usize);
        for (l, shape) in self.layers().iter().zip(self.output_shapes()) {
            let n: usize = l.params().iter().map(|p| p.value.numel()).sum();
            for p in l.params() {
                if p.trainable {
                    trainable += p.value.numel();
                } else {
                    frozen += p.value.numel();
                }
            }
            let dims: Vec<String> = std::iter::once("None".to_string())
                .chain(shape.iter().map(|d| d.to_string()))
                .collect();
            let frozen_mark = if !l.params().is_empty() && !l.trainable() {
                " [frozen]"
            } else {
                ""
            };
            rows.push((
                format!("{} ({}){frozen_mark}", l.name(), l.config().type_name()),
                format!("({})", dims.join(", ")),
                n.to_string(),
            ));
        }
        let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0) + 2;
        let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0) + 2;
        let w2 = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
        let line = "─".repeat(w0 + w1 + w2);
        let mut s = format!(
            "Model: \"sequential\" (input {:?})\n{line}\n",
            self.input_shape()
        );
        for (i, (a, b, c)) in rows.iter().enumerate() {
            s += &format!("{a:<w0$}{b:<w1$}{c:>w2$}\n");
            if i == 0 {
                s += &format!("{}\n", "═".repeat(w0 + w1 + w2));
            }
        }
        s += &format!("{line}\n");
        s += &format!("Total params: {}\n", trainable + frozen);
        s += &format!("Trainable params: {trainable}\n");
        s += &format!("Non-trainable params: {frozen}\n");
        s
    }
}
