//! Transfer learning, as the seeds teach it: pre-train on digits 0–4, then reuse the learnt
//! features for digits 5–9 with a new head, the base frozen, fine-tuned at a lower rate.
//!
//! `cargo run --release --example transfer`

use nabla::prelude::*;

fn model(head: &str, seed: u64) -> anyhow::Result<Model> {
    Ok(Sequential::new([28, 28])
        .add(Flatten::new())
        .add(
            Dense::new(128)
                .activation(Activation::Relu)
                .with_name("base"),
        )
        .add(Dropout::new(0.2))
        .add(
            Dense::new(5)
                .activation(Activation::Softmax)
                .with_name(head),
        )
        .build(seed)?)
}

fn main() -> anyhow::Result<()> {
    let (train, test) = nabla::datasets::mnist()?;
    let low = |d: &Dataset| d.filter(|y| y[0] < 5.0);
    let high = |d: &Dataset| d.filter(|y| y[0] >= 5.0).map_targets(|y| y - 5.0);

    // 1. Pre-train on 0–4 and save.
    let mut pre = model("head_0_4", 1)?;
    pre.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    pre.fit(&low(&train), Fit::new().epochs(3).verbose(0))?;
    let acc_pre = pre.evaluate(&low(&test))?.get("accuracy").unwrap_or(0.0);
    println!("pre-trained on digits 0-4: test accuracy {acc_pre:.4}");
    let path = std::env::temp_dir().join("nabla_transfer_pretrained.safetensors");
    pre.save(&path)?;

    // 2. A new head for 5–9: load the base by name (the old head is skipped), freeze it.
    let mut fine = model("head_5_9", 2)?;
    let report = fine.load_weights(&path)?;
    print!("{report}");
    fine.layer_mut("base")
        .expect("named layer")
        .set_trainable(false);
    print!("{}", fine.summary());
    let frozen_before: Vec<Vec<f32>> = fine.named_params()[..2]
        .iter()
        .map(|(_, p)| p.value.to_vec())
        .collect();

    // 3. Fine-tune the head with a lower learning rate.
    fine.compile(
        Adam::new(5e-4),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    fine.fit(&high(&train), Fit::new().epochs(8).verbose(0))?;
    let acc_fine = fine.evaluate(&high(&test))?.get("accuracy").unwrap_or(0.0);
    println!("fine-tuned head on digits 5-9 (base frozen): test accuracy {acc_fine:.4}");
    let frozen_after: Vec<Vec<f32>> = fine.named_params()[..2]
        .iter()
        .map(|(_, p)| p.value.to_vec())
        .collect();
    let same = frozen_before == frozen_after;
    println!("frozen base weights bit-identical after fine-tuning: {same}");
    anyhow::ensure!(same, "a frozen layer changed");
    let _ = std::fs::remove_file(&path);
    Ok(())
}
