//! Learning-rate schedules: formulas at known points, PyTorch reference values, names and
//! tables as the spec writes them.

use nabla_nn::schedules::*;

fn lr(kind: ScheduleKind, t: u64) -> f32 {
    Schedule::new(kind).learning_rate(1.0, t)
}

#[test]
fn formulas_at_known_points() {
    let close = |a: f32, b: f64| assert!((a as f64 - b).abs() < 1e-6, "{a} vs {b}");
    close(
        lr(
            ScheduleKind::Step {
                step_size: 2,
                gamma: 0.5,
            },
            5,
        ),
        0.25,
    );
    close(
        lr(
            ScheduleKind::MultiStep {
                milestones: vec![1, 3],
                gamma: 0.1,
            },
            3,
        ),
        0.01,
    );
    close(
        lr(
            ScheduleKind::Exponential {
                decay_rate: 0.5,
                decay_steps: 2,
                staircase: false,
            },
            3,
        ),
        0.5f64.powf(1.5),
    );
    close(
        lr(
            ScheduleKind::Exponential {
                decay_rate: 0.5,
                decay_steps: 2,
                staircase: true,
            },
            3,
        ),
        0.5,
    );
    close(
        lr(
            ScheduleKind::InverseTime {
                decay_rate: 1.0,
                decay_steps: 1,
                staircase: false,
            },
            3,
        ),
        0.25,
    );
    close(
        lr(
            ScheduleKind::Polynomial {
                decay_steps: 4,
                end_learning_rate: 0.0,
                power: 2.0,
            },
            2,
        ),
        0.25,
    );
    close(
        lr(
            ScheduleKind::Polynomial {
                decay_steps: 4,
                end_learning_rate: 0.1,
                power: 1.0,
            },
            9,
        ),
        0.1,
    );
    let cos = |_t, restarts| ScheduleKind::Cosine {
        decay_steps: 4,
        alpha: 0.0,
        warmup_steps: 0,
        restarts,
        t_mul: 2.0,
        m_mul: 0.5,
    };
    close(lr(cos(0, false), 0), 1.0);
    close(lr(cos(0, false), 2), 0.5);
    close(lr(cos(0, false), 9), 0.0);
    close(lr(cos(0, true), 4), 0.5); // restart: period 8, peak 0.5
    close(lr(cos(0, true), 8), 0.25); // half-way through the second period
    let warm = ScheduleKind::Cosine {
        decay_steps: 4,
        alpha: 0.0,
        warmup_steps: 3,
        restarts: false,
        t_mul: 2.0,
        m_mul: 1.0,
    };
    close(lr(warm.clone(), 0), 0.25);
    close(lr(warm, 3), 1.0);
    let pc = ScheduleKind::PiecewiseConstant {
        boundaries: vec![2, 5],
        values: vec![1.0, 0.5, 0.1],
    };
    close(lr(pc.clone(), 2), 1.0);
    close(lr(pc.clone(), 3), 0.5);
    close(lr(pc, 6), 0.1);
}

#[test]
fn parses_names_tables_and_the_clock() {
    let s: Schedule =
        serde_json::from_str(r#"{"type":"step","step_size":3,"per":"step"}"#).unwrap();
    assert_eq!(
        s,
        Schedule {
            kind: ScheduleKind::Step {
                step_size: 3,
                gamma: 0.1
            },
            per: Some(Per::Step)
        }
    );
    let back: Schedule = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    let c: Schedule = serde_json::from_str(r#""constant""#).unwrap();
    assert_eq!(c.per(), Per::Epoch);
    let e = serde_json::from_str::<Schedule>(r#"{"type":"step","step_sise":3}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("step_sise"), "{e}");
    let e = serde_json::from_str::<Schedule>(r#"{"type":"cosinus"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cosinus") && e.contains("one_cycle"), "{e}");
}

#[test]
fn one_cycle_rises_then_falls() {
    let k = ScheduleKind::OneCycle {
        max_lr: 1.0,
        total_steps: 101,
        pct_start: 0.3,
        div_factor: 25.0,
        final_div_factor: 1e4,
    };
    let s = Schedule::new(k);
    assert_eq!(s.per(), Per::Step);
    // torch.optim.lr_scheduler.OneCycleLR(SGD(lr=1), max_lr=1, total_steps=101,
    // cycle_momentum=False): lr at steps 0, 29, 30, 60, 100
    let want = [
        (0, 0.04),
        (29, 0.9997516976618612),
        (30, 0.9997581421134295),
        (60, 0.6025806488883263),
        (100, 4e-6),
    ];
    for (t, w) in want {
        let got = s.learning_rate(0.0, t) as f64;
        assert!(
            (got - w).abs() < 1e-6 * w.max(1e-3),
            "step {t}: {got} vs {w}"
        );
    }
}

/// transformers' `get_linear_schedule_with_warmup(opt, 4, 20)`: lr0·t/4 up to step 4, then
/// lr0·(20 − t)/16, 0 from step 20 on; counted in steps.
#[test]
fn linear_warm_up_then_decay() {
    let kind = ScheduleKind::Linear {
        total_steps: 20,
        warmup_steps: 4,
    };
    let s = Schedule::new(kind.clone());
    assert_eq!(s.per(), Per::Step);
    for (t, want) in [
        (0, 0.0),
        (1, 0.25),
        (4, 1.0),
        (12, 0.5),
        (19, 1.0 / 16.0),
        (20, 0.0),
        (25, 0.0),
    ] {
        assert!(
            (lr(kind.clone(), t) - want).abs() < 1e-6,
            "t = {t}: {}",
            lr(kind.clone(), t)
        );
    }
    let bad = Schedule::new(ScheduleKind::Linear {
        total_steps: 4,
        warmup_steps: 4,
    });
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("warmup_steps < total_steps"));
}

/// Goyal et al. 2017: from lr0 up to k·lr0 over the warm-up, linearly in steps, then k·lr0
/// divided by 10 at each milestone.
#[test]
fn linear_scaling_warms_up_to_k_times_then_decays_at_milestones() {
    let kind = ScheduleKind::LinearScaling {
        scale: 4.0,
        warmup_steps: 10,
        milestones: vec![30, 60],
        gamma: 0.1,
    };
    assert_eq!(Schedule::new(kind.clone()).per(), Per::Step);
    for (t, want) in [
        (0, 1.0),
        (5, 2.5),
        (10, 4.0),
        (29, 4.0),
        (30, 0.4),
        (61, 0.04),
    ] {
        let got = lr(kind.clone(), t);
        assert!((got - want).abs() < 1e-6, "t = {t}: {got}, expected {want}");
    }
    let spec: Schedule =
        serde_json::from_str(r#"{"type": "linear_scaling", "scale": 8, "warmup_steps": 100}"#)
            .unwrap();
    assert_eq!(spec.learning_rate(0.1, 100), 0.8);
    let bad = Schedule::new(ScheduleKind::LinearScaling {
        scale: 0.0,
        warmup_steps: 1,
        milestones: vec![],
        gamma: 0.1,
    });
    assert!(bad.validate().unwrap_err().to_string().contains("scale"));
}
