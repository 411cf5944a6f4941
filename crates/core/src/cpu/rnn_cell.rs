//! The point-wise part of one time step of each recurrent cell, forward and backward, for
//! one batch row of `H` units. The matrix products around them live in `recurrent.rs`.
//! Gate layouts are PyTorch's, so weights can be exchanged:
//!
//! ```text
//! LSTM, gates [i, f, g, o]:  i = σ(·), f = σ(·), g = tanh(·), o = σ(·)
//!                            c' = f c + i g,  h' = o tanh(c')
//! GRU, gates [r, z, n]:      r = σ(x_r + h_r),  z = σ(x_z + h_z),  n = tanh(x_n + r h_n)
//!                            h' = (1 - z) n + z h      (h_· = W_h· h + b_h·)
//! RNN:                       h' = act(x + W_hh h + b)  (act: tanh or ReLU)
//! ```

use super::gates::{sigmoid, tanh};

crate::multiversion! {
    /// LSTM forward: `g` holds the pre-activations `[i, f, g, o]` and gets the gates; `c` and
    /// `h` are the running state (updated); `out` gets `[h', c']`.
    pub fn lstm_forward(g: &mut [f32], c: &mut [f32], h: &mut [f32], out: &mut [f32]) {
        let n = c.len();
        let (gi, rest) = g.split_at_mut(n);
        let (gf, rest) = rest.split_at_mut(n);
        let (gg, go) = rest.split_at_mut(n);
        let (oh, oc) = out.split_at_mut(n);
        for j in 0..n {
            let i = sigmoid(gi[j]);
            let f = sigmoid(gf[j]);
            let gv = tanh(gg[j]);
            let o = sigmoid(go[j]);
            let cn = f * c[j] + i * gv;
            let hn = o * tanh(cn);
            gi[j] = i;
            gf[j] = f;
            gg[j] = gv;
            go[j] = o;
            c[j] = cn;
            h[j] = hn;
            oh[j] = hn;
            oc[j] = cn;
        }
    }
}

crate::multiversion! {
    /// LSTM backward: from the gates, this step's `c'`, the previous `c`, the output
    /// gradient `dy = [dh', dc']` and the recurrent gradients `dh`, `dc` (from the step
    /// after), writes the pre-activation gradients `dg` and the new `dc` (for the step
    /// before): `dc = dc' + dh' o (1 - tanh² c')`, then `do = dh' tanh c' · o(1-o)`,
    /// `di = dc g · i(1-i)`, `dg = dc i · (1-g²)`, `df = dc c · f(1-f)`, `dc_prev = dc f`.
    pub fn lstm_backward(
        gates: &[f32],
        c_new: &[f32],
        c_prev: &[f32],
        dy: &[f32],
        dh: &[f32],
        dc: &mut [f32],
        dg: &mut [f32],
    ) {
        let n = c_new.len();
        let (gi, rest) = gates.split_at(n);
        let (gf, rest) = rest.split_at(n);
        let (gg, go) = rest.split_at(n);
        let (dyh, dyc) = dy.split_at(n);
        let (di, rest) = dg.split_at_mut(n);
        let (df, rest) = rest.split_at_mut(n);
        let (dgg, d_o) = rest.split_at_mut(n);
        for j in 0..n {
            let (i, f, gv, o) = (gi[j], gf[j], gg[j], go[j]);
            let tc = tanh(c_new[j]);
            let dhj = dyh[j] + dh[j];
            let dcj = dyc[j] + dc[j] + dhj * o * (1.0 - tc * tc);
            d_o[j] = dhj * tc * o * (1.0 - o);
            di[j] = dcj * gv * i * (1.0 - i);
            dgg[j] = dcj * i * (1.0 - gv * gv);
            df[j] = dcj * c_prev[j] * f * (1.0 - f);
            dc[j] = dcj * f;
        }
    }
}

crate::multiversion! {
    /// GRU forward: `gx` holds the input pre-activations `[x_r, x_z, x_n]` and gets the gates
    /// `[r, z, n]`; `gh` holds `W_hh h + b_hh`; `h` is the running state (updated); `hn`
    /// keeps `h_n` for the backward; `out` gets `h'`.
    pub fn gru_forward(gx: &mut [f32], gh: &[f32], h: &mut [f32], hn: &mut [f32], out: &mut [f32]) {
        let n = h.len();
        let (xr, rest) = gx.split_at_mut(n);
        let (xz, xn) = rest.split_at_mut(n);
        let (hr, rest) = gh.split_at(n);
        let (hz, hh) = rest.split_at(n);
        for j in 0..n {
            let r = sigmoid(xr[j] + hr[j]);
            let z = sigmoid(xz[j] + hz[j]);
            let nv = tanh(xn[j] + r * hh[j]);
            let hnew = (1.0 - z) * nv + z * h[j];
            xr[j] = r;
            xz[j] = z;
            xn[j] = nv;
            hn[j] = hh[j];
            h[j] = hnew;
            out[j] = hnew;
        }
    }
}

crate::multiversion! {
    /// GRU backward: with `dh' = dy + dh` (`dh` from the step after), writes the input-side
    /// gradients `dgx = [dr, dz, dn]`, the hidden-side `dgh = [dr, dz, dn · r]` and replaces
    /// `dh` by the direct part `dh' z` (the product with `W_hh` is added by the caller):
    /// `dn = dh' (1-z)(1-n²)`, `dz = dh' (h - n) z(1-z)`, `dr = dn h_n r(1-r)`.
    pub fn gru_backward(
        gates: &[f32],
        hn: &[f32],
        h_prev: &[f32],
        dy: &[f32],
        dh: &mut [f32],
        dgx: &mut [f32],
        dgh: &mut [f32],
    ) {
        let n = hn.len();
        let (gr, rest) = gates.split_at(n);
        let (gz, gn) = rest.split_at(n);
        let (dxr, rest) = dgx.split_at_mut(n);
        let (dxz, dxn) = rest.split_at_mut(n);
        let (dhr, rest) = dgh.split_at_mut(n);
        let (dhz, dhn) = rest.split_at_mut(n);
        for j in 0..n {
            let (r, z, nv) = (gr[j], gz[j], gn[j]);
            let d = dy[j] + dh[j];
            let dn = d * (1.0 - z) * (1.0 - nv * nv);
            let dz = d * (h_prev[j] - nv) * z * (1.0 - z);
            let dr = dn * hn[j] * r * (1.0 - r);
            dxr[j] = dr;
            dxz[j] = dz;
            dxn[j] = dn;
            dhr[j] = dr;
            dhz[j] = dz;
            dhn[j] = dn * r;
            dh[j] = d * z;
        }
    }
}

crate::multiversion! {
    /// Plain RNN forward: `g` holds the pre-activation, `h` (the state) and `out` get
    /// `act(g)`; `relu` picks ReLU over tanh.
    pub fn rnn_forward(g: &[f32], h: &mut [f32], out: &mut [f32], relu: bool) {
        for j in 0..h.len() {
            let v = if relu { g[j].max(0.0) } else { tanh(g[j]) };
            h[j] = v;
            out[j] = v;
        }
    }
}

crate::multiversion! {
    /// Plain RNN backward: `dg = (dy + dh) · act'(y)` from the output `y`.
    pub fn rnn_backward(y: &[f32], dy: &[f32], dh: &[f32], dg: &mut [f32], relu: bool) {
        for j in 0..y.len() {
            let d = dy[j] + dh[j];
            dg[j] = if relu {
                if y[j] > 0.0 {
                    d
                } else {
                    0.0
                }
            } else {
                d * (1.0 - y[j] * y[j])
            };
        }
    }
}
