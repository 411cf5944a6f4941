//! `Model::from_bytes` returns a model or an error, never panics; a model it returns predicts
//! on a zero batch without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nabla::prelude::*;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Model::from_bytes(data) {
        let shape: Vec<usize> = [1].iter().chain(m.input_shape()).copied().collect();
        if m.inputs().len() == 1 && shape.iter().product::<usize>() < 1 << 16 {
            let _ = m.predict(&Tensor::zeros(&shape));
        }
    }
});
