//! Measures the search algorithms on two standard test functions: Branin (2-D, minimum
//! 0.397887) and Hartmann-6 (6-D, minimum -3.32237), 30 evaluations each over 10 seeds,
//! Bayesian optimisation against random search. One JSON line per function and algorithm.
//!
//!     cargo run --release --example tune_functions

use nabla::tune::{get_f64, Algorithm, Direction, Params, Space, Tuner};

/// Branin-Hoo on x1 ∈ [-5, 10], x2 ∈ [0, 15].
fn branin(p: &Params) -> f64 {
    let (x1, x2) = (get_f64(p, "x1").unwrap(), get_f64(p, "x2").unwrap());
    let pi = std::f64::consts::PI;
    let (b, c, t) = (5.1 / (4.0 * pi * pi), 5.0 / pi, 1.0 / (8.0 * pi));
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
}

/// Hartmann-6 on [0, 1]^6.
fn hartmann6(p: &Params) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ];
    let x: Vec<f64> = (0..6)
        .map(|i| get_f64(p, &format!("x{i}")).unwrap())
        .collect();
    -(0..4)
        .map(|i| {
            let e: f64 = (0..6).map(|j| A[i][j] * (x[j] - P[i][j]).powi(2)).sum();
            ALPHA[i] * (-e).exp()
        })
        .sum::<f64>()
}

/// A test function: its name, domain, formula and minimum.
type Problem = (&'static str, Space, fn(&Params) -> f64, f64);

fn main() -> anyhow::Result<()> {
    let hartmann_space = (0..6).fold(Space::new(), |s, i| s.uniform(&format!("x{i}"), 0.0, 1.0));
    let problems: [Problem; 2] = [
        (
            "branin",
            Space::new()
                .uniform("x1", -5.0, 10.0)
                .uniform("x2", 0.0, 15.0),
            branin,
            0.397887,
        ),
        ("hartmann6", hartmann_space, hartmann6, -3.32237),
    ];
    for (name, space, f, optimum) in problems {
        for (algo, label) in [
            (Algorithm::Bayesian, "bayesian"),
            (Algorithm::Random, "random"),
        ] {
            let mut bests = Vec::new();
            for seed in 0..10 {
                let mut tuner = Tuner::new(space.clone(), Direction::Minimize)
                    .algorithm(algo)
                    .trials(30)
                    .seed(seed);
                let best = tuner.run(|p| Ok(f(p)), |_, _| {})?;
                bests.push(best.and_then(|t| t.objective()).unwrap_or(f64::NAN));
            }
            bests.sort_by(f64::total_cmp);
            let median = (bests[4] + bests[5]) / 2.0;
            println!(
                "{{\"function\": \"{name}\", \"algorithm\": \"{label}\", \"evaluations\": 30, \"seeds\": 10, \"median_best\": {median:.6}, \"worst_best\": {:.6}, \"optimum\": {optimum}, \"median_regret\": {:.6}}}",
                bests[9],
                median - optimum
            );
        }
    }
    Ok(())
}
