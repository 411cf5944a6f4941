//! The statically quantised convolution (`cpu::conv_int8`) against a plain integer
//! reference: exact on every int8 path, with padding, strides, dilation, groups, odd channel
//! counts and the extreme values; and its pooled epilogue against pooling its plain output.

use nabla_core::cpu::conv::Conv2dGeom;
use nabla_core::cpu::conv_epilogue::Epilogue;
use nabla_core::cpu::conv_int8::ConvInt8;
use nabla_core::cpu::int8_matmul::Int8Path;

fn ints(len: usize, seed: u64, lo: i32, hi: i32) -> Vec<i32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (s % (hi - lo + 1) as u64) as i32
        })
        .collect()
}

/// The integer reference: `(Σ (qx − zx)·qw)·sx·sw + b` by direct convolution, padding
/// counting as `qx = zx`.
fn reference(
    qx: &[i32],
    zx: i32,
    sx: f32,
    qw: &[i32],
    sw: &[f32],
    b: &[f32],
    g: &Conv2dGeom,
) -> Vec<f32> {
    let (oh, ow) = g.out_hw().unwrap();
    let (cg, ocg) = (g.c / g.groups, g.oc / g.groups);
    let mut y = vec![0f32; g.n * g.oc * oh * ow];
    for n in 0..g.n {
        for o in 0..g.oc {
            let grp = o / ocg;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0i64;
                    let mut sum = 0i64;
                    for c in 0..cg {
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                let w = qw[((o * cg + c) * g.kh + ky) * g.kw + kx] as i64;
                                sum += w;
                                let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize
                                    - g.pad.0 as isize;
                                let ix = (ox * g.stride.1 + kx * g.dilation.1) as isize
                                    - g.pad.2 as isize;
                                if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                    acc += zx as i64 * w;
                                    continue;
                                }
                                let ch = grp * cg + c;
                                let v =
                                    qx[((n * g.c + ch) * g.h + iy as usize) * g.w + ix as usize];
                                acc += v as i64 * w;
                            }
                        }
                    }
                    let t = (acc - zx as i64 * sum) as i32;
                    y[((n * g.oc + o) * oh + oy) * ow + ox] = t as f32 * (sx * sw[o]) + b[o];
                }
            }
        }
    }
    y
}

/// Inputs on the quantisation grid convolve exactly as the integer reference, on every
/// path, with padding, strides, dilation and groups, odd channel counts, and the extremes.
#[test]
fn every_path_equals_the_integer_reference() {
    let geoms = [
        // (n, c, h, w, oc, kh, kw, stride, pad, dilation, groups)
        (2, 1, 7, 6, 5, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1), 1),
        (3, 3, 9, 8, 17, 3, 2, (2, 1), (1, 2, 0, 1), (1, 2), 1),
        (2, 4, 6, 6, 6, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 2),
        (1, 5, 5, 7, 33, 1, 3, (1, 2), (0, 0, 2, 2), (1, 1), 1),
    ];
    for (i, &(n, c, h, w, oc, kh, kw, stride, pad, dilation, groups)) in geoms.iter().enumerate() {
        let g = Conv2dGeom {
            n,
            c,
            h,
            w,
            oc,
            kh,
            kw,
            stride,
            pad,
            dilation,
            groups,
        };
        let k = c / groups * kh * kw;
        for extreme in [false, true] {
            let (lo, hi) = (-0.75f32, 1.5f32);
            let conv_probe = ConvInt8::new(&vec![0; oc * k], &vec![1.0; oc], None, &g, (lo, hi));
            let (sx, zx) = conv_probe.input_qparams();
            let qx = match extreme {
                true => vec![127; n * c * h * w],
                false => ints(n * c * h * w, i as u64 + 1, 0, 127),
            };
            let qw = match extreme {
                true => ints(oc * k, 9, 0, 1)
                    .iter()
                    .map(|&v| if v == 0 { -127 } else { 127 })
                    .collect(),
                false => ints(oc * k, i as u64 + 7, -127, 127),
            };
            let sw: Vec<f32> = (0..oc).map(|o| 0.01 + o as f32 * 0.003).collect();
            let b: Vec<f32> = (0..oc).map(|o| o as f32 * 0.1 - 1.0).collect();
            let x: Vec<f32> = qx.iter().map(|&q| (q - zx) as f32 * sx).collect();
            let w8: Vec<i8> = qw.iter().map(|&v| v as i8).collect();
            let conv = ConvInt8::new(&w8, &sw, Some(&b), &g, (lo, hi));
            let want = reference(&qx, zx, sx, &qw, &sw, &b, &g);
            for path in Int8Path::available() {
                let got = conv.forward(&x, &g, Epilogue::Bias { relu: false }, path);
                assert_eq!(got, want, "geometry {i}, extreme {extreme}, {path:?}");
            }
        }
    }
}

/// ReLU and max pooling in the epilogue give the pooled ReLU of the plain output.
#[test]
fn the_pooled_epilogue_pools_the_plain_output() {
    let g = Conv2dGeom {
        n: 3,
        c: 2,
        h: 10,
        w: 9,
        oc: 20,
        kh: 3,
        kw: 3,
        stride: (1, 1),
        pad: (0, 0, 0, 0),
        dilation: (1, 1),
        groups: 1,
    };
    let k = 2 * 9;
    let w: Vec<i8> = ints(20 * k, 3, -127, 127)
        .iter()
        .map(|&v| v as i8)
        .collect();
    let x: Vec<f32> = ints(3 * 2 * 90, 4, -100, 100)
        .iter()
        .map(|&v| v as f32 / 50.0)
        .collect();
    let conv = ConvInt8::new(&w, &[0.01; 20], None, &g, (-2.0, 2.0));
    let plain = conv.forward(&x, &g, Epilogue::Bias { relu: true }, Int8Path::best());
    let pooled = conv.forward(
        &x,
        &g,
        Epilogue::ReluMaxPool {
            k: (2, 2),
            s: (2, 2),
        },
        Int8Path::best(),
    );
    let (oh, ow, ph, pw) = (8, 7, 4, 3);
    for (plane, out) in plain
        .chunks_exact(oh * ow)
        .zip(pooled.chunks_exact(ph * pw))
    {
        for (j, &v) in out.iter().enumerate() {
            let (py, px) = (j / pw, j % pw);
            let m = [0, 1, ow, ow + 1]
                .iter()
                .map(|d| plane[2 * py * ow + 2 * px + d])
                .fold(f32::MIN, f32::max);
            assert_eq!(v, m);
        }
    }
}
