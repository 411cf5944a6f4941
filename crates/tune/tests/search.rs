//! The search loop over functions and over specs: failures recorded, grids in order,
//! resumed searches equal to uninterrupted ones, the files of `nabla tune`.

use nabla_tune::{
    get_f64, trials_csv, Algorithm, Direction, Outcome, Space, SpecSearch, Trial, Tuner,
};

/// The trials without their wall times (which no two runs share).
fn untimed(trials: &[Trial]) -> Vec<(usize, nabla_tune::Params, Outcome, usize)> {
    trials
        .iter()
        .map(|t| (t.number, t.params.clone(), t.outcome.clone(), t.epochs))
        .collect()
}

fn quadratic(p: &nabla_tune::Params) -> Result<f64, String> {
    let x = get_f64(p, "x").unwrap();
    let n = get_f64(p, "n").unwrap();
    if x > 0.8 {
        return Err(format!("x = {x} is too large"));
    }
    Ok((x - 0.3).powi(2) + (n - 4.0).abs())
}

fn space() -> Space {
    Space::new()
        .uniform("x", 0.0, 1.0)
        .int("n", 1, 9, 1)
        .choice("act", ["relu", "tanh"])
}

#[test]
fn failed_trials_are_recorded_and_the_search_goes_on() {
    let mut tuner = Tuner::new(space(), Direction::Minimize)
        .algorithm(Algorithm::Bayesian)
        .trials(15)
        .seed(3);
    let mut seen = 0;
    let best = tuner.run(quadratic, |_, _| seen += 1).unwrap().unwrap();
    assert_eq!((seen, tuner.done.len()), (15, 15));
    let failed: Vec<&Trial> = tuner
        .done
        .iter()
        .filter(|t| t.objective().is_none())
        .collect();
    assert!(!failed.is_empty(), "x > 0.8 fails in some trial of 15");
    for t in failed {
        assert!(matches!(&t.outcome, Outcome::Failed(w) if w.contains("too large")));
    }
    let min = tuner
        .done
        .iter()
        .filter_map(Trial::objective)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best.objective(), Some(min));
    assert!(
        min < 0.05,
        "the Gaussian process finds n = 4, x near 0.3: {min}"
    );
}

#[test]
fn a_resumed_search_suggests_what_the_uninterrupted_one_did() {
    let eval = |s: &nabla_tune::Suggestion| match s.epochs {
        Some(_) => learning_curve(s),
        None => quadratic(&s.params).map(|v| (v, 0)),
    };
    for algo in [
        Algorithm::Random,
        Algorithm::Bayesian,
        Algorithm::Grid,
        Algorithm::Hyperband,
    ] {
        let make = || {
            Tuner::new(space(), Direction::Minimize)
                .algorithm(algo)
                .trials(12)
                .seed(7)
        };
        let mut whole = make();
        whole.run_with(eval, |_, _| {}).unwrap();
        // stopped after 5 or 11 trials (inside Hyperband's first and second rungs); the
        // finished trials go through trials.csv, as `--resume` reads them
        for stop in [5, 11] {
            let text = trials_csv::to_csv(&whole.space, &whole.done[..stop]);
            let path = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(path.path(), text).unwrap();
            let mut rest = make();
            rest.done = trials_csv::read(path.path(), &rest.space).unwrap();
            rest.run_with(eval, |_, _| {}).unwrap();
            assert_eq!(
                untimed(&rest.done),
                untimed(&whole.done),
                "{algo:?} after {stop}"
            );
        }
    }
}

/// Hyperband's "training": the objective improves with epochs, at a rate set by x.
fn learning_curve(s: &nabla_tune::Suggestion) -> Result<(f64, usize), String> {
    let x = get_f64(&s.params, "x").unwrap();
    let e = s.epochs.unwrap() as f64;
    Ok(((x - 0.3).powi(2) + 1.0 / e, s.epochs.unwrap()))
}

#[test]
fn hyperband_promotes_the_best_of_each_rung() {
    let mut tuner = Tuner::new(space(), Direction::Minimize)
        .algorithm(Algorithm::Hyperband)
        .seed(2);
    tuner.hyperband = (9, 3, 1);
    assert_eq!(tuner.planned(), 22);
    tuner.run_with(learning_curve, |_, _| {}).unwrap();
    let epochs: Vec<usize> = tuner.done.iter().map(|t| t.epochs).collect();
    let expected: Vec<usize> = [(9, 1), (3, 3), (1, 9), (5, 3), (1, 9), (3, 9)]
        .iter()
        .flat_map(|&(n, e)| std::iter::repeat_n(e, n))
        .collect();
    assert_eq!(epochs, expected);
    // the second rung trains the 3 best configurations of the first, the third the best of those
    let obj = |t: &Trial| t.objective().unwrap();
    let mut first: Vec<&Trial> = tuner.done[..9].iter().collect();
    first.sort_by(|a, b| obj(a).total_cmp(&obj(b)));
    let promoted: Vec<usize> = tuner.done[9..12].iter().map(|t| t.config).collect();
    assert_eq!(
        promoted,
        first[..3].iter().map(|t| t.number).collect::<Vec<_>>()
    );
    for t in &tuner.done[9..12] {
        assert_eq!(t.params, tuner.done[t.config].params);
    }
    let best_second = tuner.done[9..12]
        .iter()
        .min_by(|a, b| obj(a).total_cmp(&obj(b)))
        .unwrap();
    assert_eq!(tuner.done[12].config, best_second.config);
    // fresh configurations start the next bracket
    assert!((13..18).all(|i| tuner.done[i].config == i));
}

#[test]
fn grid_search_walks_every_combination_once() {
    let space = Space::new()
        .int("n", 1, 5, 2)
        .choice("act", ["relu", "tanh"])
        .uniform("x", 0.0, 1.0);
    let mut tuner = Tuner::new(space, Direction::Minimize)
        .algorithm(Algorithm::Grid)
        .trials(100);
    tuner.grid_points = 2;
    assert_eq!(tuner.planned(), 12);
    tuner.run(|_| Ok(1.0), |_, _| {}).unwrap();
    let seen: Vec<String> = tuner
        .done
        .iter()
        .map(|t| format!("{:?}", t.params))
        .collect();
    assert_eq!(seen.len(), 12);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 12);
    assert_eq!(tuner.done[0].params[0].1, toml::Value::Integer(1));
    assert_eq!(tuner.done[11].params[0].1, toml::Value::Integer(5));
}

const SPEC: &str = r#"
[data]
dataset = "mnist"
validation_split = 0.2
[model]
input_shape = [28, 28]
layers = [{ type = "flatten" }, { type = "dense", units = 16, activation = "relu" }, { type = "dense", units = 10, activation = "softmax" }]
[train]
optimizer = "adam"
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 1
batch_size = 64
seed = 1
[tune]
objective = "val_accuracy"
algorithm = "random"
trials = TRIALS
seed = 5
[tune.space]
"train.optimizer.learning_rate" = { log_uniform = [1e-3, 1e-2] }
"model.layers.1.units" = { int = [0, 24], step = 8 }
"#;

#[test]
fn a_spec_search_writes_its_files_records_build_errors_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, part) = (dir.path().join("whole"), dir.path().join("part"));
    let mut s = SpecSearch::from_toml(&SPEC.replace("TRIALS", "6")).unwrap();
    let best = s.run(&whole, false, |_, _| {}).unwrap().unwrap();
    // units = 0 is among the 6 draws (1 in 4) with this seed: a build error, recorded
    let failed: Vec<&Trial> = s
        .tuner
        .done
        .iter()
        .filter(|t| t.objective().is_none())
        .collect();
    assert!(!failed.is_empty(), "{:?}", s.tuner.done);
    assert!(
        matches!(&failed[0].outcome, Outcome::Failed(w) if w.contains("units")),
        "{:?}",
        failed[0]
    );
    for f in [
        "trials.csv",
        "best.toml",
        "best_model.safetensors",
        "tune.png",
    ] {
        assert!(whole.join(f).exists(), "{f}");
    }
    // best.toml is a spec that trains the best trial again to the same score
    let spec = nabla_train::Spec::from_file(whole.join("best.toml")).unwrap();
    let mut model = spec.build_model(spec.train.seed).unwrap();
    let (train, _) = spec.load_data(&model).unwrap();
    use nabla_train::Training;
    let h = model.fit(&train, spec.fit_options().verbose(0)).unwrap();
    assert_eq!(h.get("val_accuracy").last().copied(), best.objective());
    // 3 trials, then the other 3 with --resume: the same trials
    SpecSearch::from_toml(&SPEC.replace("TRIALS", "3"))
        .unwrap()
        .run(&part, false, |_, _| {})
        .unwrap();
    let mut rest = SpecSearch::from_toml(&SPEC.replace("TRIALS", "6")).unwrap();
    rest.run(&part, true, |_, _| {}).unwrap();
    let read =
        |d: &std::path::Path| trials_csv::read(&d.join("trials.csv"), &s.tuner.space).unwrap();
    assert_eq!(untimed(&read(&part)), untimed(&read(&whole)));
    // a second search into a folder that has one is refused (nothing overwritten)
    let e = SpecSearch::from_toml(&SPEC.replace("TRIALS", "2"))
        .unwrap()
        .run(&whole, false, |_, _| {})
        .unwrap_err();
    assert!(e.to_string().contains("--resume"), "{e}");
}

#[test]
fn bad_tune_tables_are_refused_with_their_names() {
    let cases = [
        (
            "validation_split = 0.2",
            "validation_split = 0.0",
            "data.validation_split above 0",
        ),
        (
            "{ log_uniform = [1e-3, 1e-2] }",
            "{ log_uniform = [0, 1e-2] }",
            "log_uniform from 0",
        ),
        (
            "\"model.layers.1.units\"",
            "\"model.layers.9.units\"",
            "expected an index below 3, received \"9\"",
        ),
        (
            "algorithm = \"random\"",
            "algorithm = \"annealing\"",
            "\"grid\", \"random\", \"bayesian\" or \"hyperband\"",
        ),
        ("trials = TRIALS", "trials = 0", "positive integers"),
        (
            "{ int = [0, 24], step = 8 }",
            "{ normal = [0, 1] }",
            "{ uniform = [a, b] }",
        ),
    ];
    for (from, to, expected) in cases {
        let text = SPEC.replace(from, to).replace("TRIALS", "3");
        let e = SpecSearch::from_toml(&text)
            .err()
            .unwrap_or_else(|| panic!("{to} accepted"));
        assert!(e.to_string().contains(expected), "{to}: {e}");
    }
}

#[test]
fn a_hyperband_spec_search_continues_configurations_from_their_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let text = SPEC
        .replace(
            "algorithm = \"random\"",
            "algorithm = \"hyperband\"\nmax_epochs = 3",
        )
        .replace("TRIALS", "1")
        .replace("{ int = [0, 24], step = 8 }", "{ int = [8, 24], step = 8 }");
    let mut s = SpecSearch::from_toml(&text).unwrap();
    // bracket 1: 3 configurations for 1 epoch, the best to 3; bracket 2: 2 for 3 epochs
    let best = s.run(dir.path(), false, |_, _| {}).unwrap().unwrap();
    let epochs: Vec<usize> = s.tuner.done.iter().map(|t| t.epochs).collect();
    assert_eq!(epochs, [1, 1, 1, 3, 3, 3]);
    let carried = &s.tuner.done[3];
    assert!(carried.config < 3 && carried.params == s.tuner.done[carried.config].params);
    let ckpt = |c: usize| {
        dir.path()
            .join(format!("hyperband/config_{}.safetensors", c + 1))
    };
    assert!(ckpt(carried.config).exists() && ckpt(4).exists());
    // training on from epoch 1 gives what 3 epochs from scratch give (best.toml, when the
    // carried configuration is the best; else the best's own run)
    let spec = nabla_train::Spec::from_toml(&s.best_toml(carried).unwrap()).unwrap();
    assert_eq!(spec.train.epochs, 3);
    let mut model = spec.build_model(spec.train.seed).unwrap();
    let (train, _) = spec.load_data(&model).unwrap();
    use nabla_train::Training;
    let h = model.fit(&train, spec.fit_options().verbose(0)).unwrap();
    let top = h.get("val_accuracy").into_iter().fold(f64::MIN, f64::max);
    assert_eq!(Some(top), carried.objective());
    assert!(best.objective() >= carried.objective());
}

#[test]
fn the_wall_time_budget_stops_the_search_between_trials() {
    let mut tuner = Tuner::new(space(), Direction::Minimize).trials(50);
    tuner.max_seconds = Some(0.05);
    tuner
        .run(
            |p| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                quadratic(p)
            },
            |_, _| {},
        )
        .unwrap();
    let n = tuner.done.len();
    assert!(
        (1..=4).contains(&n),
        "{n} trials of 20 ms in a 50 ms budget"
    );
}
