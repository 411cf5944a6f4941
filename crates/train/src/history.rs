//! `History`: the per-epoch logs that `fit` returns, and their CSV form.

use crate::logs::Logs;

/// One row of logs per epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Logs of each finished epoch, in order.
    pub epochs: Vec<Logs>,
}

impl History {
    /// The values of `name` over the epochs (`history.get("val_loss")`).
    pub fn get(&self, name: &str) -> Vec<f64> {
        self.epochs.iter().filter_map(|l| l.get(name)).collect()
    }

    /// The logs of the last epoch.
    pub fn last(&self) -> Option<&Logs> {
        self.epochs.last()
    }

    /// Draws the curves (loss, metrics, learning rate; training and validation) as a PNG.
    pub fn plot(&self, path: impl AsRef<std::path::Path>) -> crate::Result<()> {
        crate::curves::plot_history(self, path.as_ref())
    }

    /// CSV with an `epoch` column (1-based) then one column per log name.
    pub fn to_csv(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        for l in &self.epochs {
            for (n, _) in &l.0 {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        let mut s = format!("epoch,{}\n", names.join(","));
        for (i, l) in self.epochs.iter().enumerate() {
            let vals: Vec<String> = names
                .iter()
                .map(|n| l.get(n).map(|v| format!("{v}")).unwrap_or_default())
                .collect();
            s += &format!("{},{}\n", i + 1, vals.join(","));
        }
        s
    }
}
