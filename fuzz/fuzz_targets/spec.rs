//! A spec is read, built and run on a zero batch of 2, or refused with an error: never a
//! panic, and (sizes held to 2^22 values) never an allocation past the budget.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nabla::prelude::*;
use nabla::train::spec::Spec;

fuzz_target!(
    init: {
        // SAFETY: set once, before any case runs, in this single-purpose process.
        unsafe { std::env::set_var("NABLA_MAX_VALUES", (1u64 << 22).to_string()) };
    },
    |data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let Ok(spec) = Spec::from_toml(text) else { return };
        let Ok(model) = spec.build_model(1) else { return };
        let xs: Vec<Tensor> = model
            .inputs()
            .iter()
            .map(|i| Tensor::zeros(&[&[2][..], &i.shape].concat()))
            .collect();
        let refs: Vec<&[f32]> = xs.iter().map(|x| x.data()).collect();
        if model.check_inputs(&refs).is_ok() {
            model.forward_eval_multi(&xs);
        }
    }
);
