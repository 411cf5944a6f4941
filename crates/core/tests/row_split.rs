//! Kernels that split rows over the worker threads give what one row at a time gives.

use nabla_core::cpu::softmax::{log_softmax, log_softmax_backward, softmax, softmax_backward};

#[test]
fn rows_split_over_workers_match_one_row_at_a_time() {
    // 1,001 rows of 67: above the split threshold, chunks end inside no row
    let n = 67;
    let x: Vec<f32> = (0..1001 * n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.1)
        .collect();
    let dy: Vec<f32> = (0..x.len()).map(|i| ((i % 7) as f32 - 3.0) * 0.5).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let (y, ly, dx, dlx) = pool.install(|| {
        let (y, ly) = (softmax(&x, n), log_softmax(&x, n));
        let (mut dx, mut dlx) = (vec![1.0; x.len()], vec![1.0; x.len()]);
        softmax_backward(&y, &dy, &mut dx, n);
        log_softmax_backward(&ly, &dy, &mut dlx, n);
        (y, ly, dx, dlx)
    });
    for r in (0..1001).step_by(50).chain([1000]) {
        let at = r * n..(r + 1) * n;
        assert_eq!(
            y[at.clone()],
            softmax(&x[at.clone()], n)[..],
            "softmax row {r}"
        );
        assert_eq!(
            ly[at.clone()],
            log_softmax(&x[at.clone()], n)[..],
            "row {r}"
        );
        let (mut d, mut dl) = (vec![1.0; n], vec![1.0; n]);
        softmax_backward(&y[at.clone()], &dy[at.clone()], &mut d, n);
        log_softmax_backward(&ly[at.clone()], &dy[at.clone()], &mut dl, n);
        assert_eq!(
            (&dx[at.clone()], &dlx[at]),
            (&d[..], &dl[..]),
            "backward row {r}"
        );
    }
    assert!(softmax(&[], 0).is_empty()); // rows of no values: nothing, no panic
}

#[test]
fn unpad_split_over_workers_takes_back_what_pad_put() {
    use nabla_core::cpu::layout::{pad, unpad};
    // [300, 7, 40]: 84,000 values, above the split threshold; pads on every axis
    let shape = [300, 7, 40];
    let pads = [(1, 2), (0, 3), (5, 1)];
    let x: Vec<f32> = (0..300 * 7 * 40).map(|i| i as f32).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    // stale (NaN) memory of the padded length in the buffer cache: pad must write every value
    let padded = 303 * 10 * 46;
    nabla_core::cpu::recycle::recycle(vec![f32::NAN; padded]);
    let p = pool.install(|| pad(&x, &shape, &pads));
    assert_eq!(p.len(), padded);
    // x holds one zero (its first value); everything around it must be zeros
    assert_eq!(p.iter().filter(|v| **v != 0.0).count(), x.len() - 1);
    assert_eq!(p.iter().sum::<f32>(), x.iter().sum::<f32>());
    let back = pool.install(|| unpad(&p, &shape, &pads));
    assert_eq!(back, x);
}

#[test]
fn transpose_over_workers_moves_every_value_once() {
    use nabla_core::cpu::layout::transpose;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    // split over the workers (300 x 257 and 29 x 2,500 are above the split size, on a
    // machine of 2 or more cores; neither side a multiple of 16 or 256), and serial ones
    // down to a single value and to none
    for (rows, cols) in [
        (300, 257),
        (29, 2_500),
        (3, 5),
        (1, 1),
        (16, 1),
        (0, 5),
        (5, 0),
    ] {
        let x: Vec<f32> = (0..rows * cols).map(|k| k as f32).collect();
        // stale NaN memory of the output's length (kept by the buffer cache for the two
        // large cases): every value must be written
        nabla_core::cpu::recycle::recycle(vec![f32::NAN; x.len()]);
        let y = pool.install(|| transpose(&x, rows, cols));
        assert_eq!(y.len(), x.len());
        for i in 0..rows {
            for j in 0..cols {
                assert_eq!(
                    y[j * rows + i],
                    x[i * cols + j],
                    "{rows} x {cols}: ({i}, {j})"
                );
            }
        }
        assert_eq!(
            pool.install(|| transpose(&y, cols, rows)),
            x,
            "{rows} x {cols} twice"
        );
    }
}
