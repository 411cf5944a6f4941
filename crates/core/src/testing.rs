//! Test helpers shared by every crate's tests: `assert_close` and the finite-difference
//! gradient check `grad_check`.

use crate::tensor::Tensor;

/// Panics unless `|a - b| <= atol + rtol·|b|` element-wise, naming the first bad index.
pub fn assert_close(a: &[f32], b: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(
        a.len(),
        b.len(),
        "{what}: lengths {} vs {}",
        a.len(),
        b.len()
    );
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= atol + rtol * y.abs(),
            "{what}: element {i} is {x}, expected {y} (atol {atol}, rtol {rtol})"
        );
    }
}

/// Checks the analytic gradient of `f` (which must return a scalar) at `inputs` against
/// central finite differences `(f(x+ε) - f(x-ε)) / 2ε`, computed in f32 around values
/// rescaled to f64, with `eps = 1e-3`. Panics naming the input and element that disagree.
pub fn grad_check(name: &str, inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Tensor) {
    let eps = 1e-3f32;
    let params: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.detach().requires_grad(true))
        .collect();
    let out = f(&params);
    let grads = out.backward();
    for (pi, p) in params.iter().enumerate() {
        let analytic = grads
            .get(p)
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; p.numel()]);
        for i in 0..p.numel() {
            let eval = |delta: f32| -> f64 {
                let mut v = p.to_vec();
                v[i] += delta;
                let mut args: Vec<Tensor> = params.iter().map(|t| t.detach()).collect();
                args[pi] = Tensor::from_vec(v, p.shape());
                crate::no_grad(|| f(&args)).item() as f64
            };
            let numeric = ((eval(eps) - eval(-eps)) / (2.0 * eps as f64)) as f32;
            let a = analytic[i];
            let tol = 2e-2 * numeric.abs().max(a.abs()) + 2e-3;
            assert!(
                (a - numeric).abs() <= tol,
                "grad_check {name}: input {pi} element {i}: analytic {a}, numeric {numeric}"
            );
        }
    }
}
