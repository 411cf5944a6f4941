//! Reverse-mode autograd: `backward` walks the recorded ops from a scalar back to the leaves,
//! and this file holds the gradient rule of every primitive, one match arm each.

use crate::cpu::binary::{self, BinaryOp};
use crate::cpu::recycle::{recycle, scratch};
use crate::cpu::{
    attention, batch_norm, buffer, conv, index, layer_norm, layout,
    matmul::{matmul as gemm, PARALLEL_MIN_FLOPS},
    pool, recurrent, reduce, softmax, unary, upsample,
};
use crate::ops::{concat_backward, matmul_dims, transpose_last2, Op};
use crate::tensor::Tensor;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops record themselves for backward on this thread.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` in inference mode: no op is recorded, so nothing is kept for backward.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(false)));
    f()
}

/// Gradients of one backward pass, by tensor id. Gradients of the same tensor from several
/// uses (or several passes, through [`Gradients::accumulate`]) are summed.
#[derive(Default, Debug, Clone)]
pub struct Gradients {
    map: HashMap<u64, Vec<f32>>,
}

impl Gradients {
    /// The gradient of `t`, if it received one.
    pub fn get(&self, t: &Tensor) -> Option<&[f32]> {
        self.map.get(&t.id()).map(|v| v.as_slice())
    }

    /// Adds `g` to the gradient stored for `id`.
    pub fn add(&mut self, id: u64, g: Vec<f32>) {
        match self.map.get_mut(&id) {
            Some(acc) => {
                buffer::add_assign(acc, &g);
                recycle(g);
            }
            None => {
                self.map.insert(id, g);
            }
        }
    }

    /// The gradient stored for `id`, made of `len` zeros if it has none (a weight the pass
    /// did not reach still takes part in an all-reduce).
    pub fn entry(&mut self, id: u64, len: usize) -> &mut Vec<f32> {
        self.map.entry(id).or_insert_with(|| vec![0.0; len])
    }

    /// Sums another pass's gradients into these (gradient accumulation over micro-batches).
    pub fn accumulate(&mut self, other: Gradients) {
        for (id, g) in other.map {
            self.add(id, g);
        }
    }

    /// Scales every gradient by `c` (e.g. `1/steps` after accumulating).
    pub fn scale(&mut self, c: f32) {
        self.map
            .values_mut()
            .for_each(|g| g.iter_mut().for_each(|v| *v *= c));
    }

    /// Applies `f` to the gradient of each of `ids` that has one.
    pub fn map_each(&mut self, ids: &[u64], mut f: impl FnMut(&mut [f32])) {
        for id in ids {
            if let Some(g) = self.map.get_mut(id) {
                f(g);
            }
        }
    }

    /// `sqrt(Σ g²)` over the gradients of `ids` (computed in f64).
    pub fn global_norm(&self, ids: &[u64]) -> f64 {
        ids.iter()
            .filter_map(|id| self.map.get(id))
            .flat_map(|g| g.iter())
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            .sqrt()
    }

    /// Number of tensors with a gradient.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no tensor received a gradient.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Nodes that need a gradient, ordered so that every node comes after its inputs.
fn topo_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // Iterative post-order DFS: (tensor, inputs pushed?)
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !t.is_requires_grad() || !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(op) = &t.node().op {
            for input in op.inputs() {
                if input.is_requires_grad() && !seen.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    order
}

impl Tensor {
    /// Back-propagates from this scalar: returns `d self / d leaf` for every leaf that
    /// requires gradients (and every intermediate tensor is dropped on the way).
    pub fn backward(&self) -> Gradients {
        assert_eq!(
            self.numel(),
            1,
            "backward: needs a scalar, got shape {:?}",
            self.shape()
        );
        let mut grads = Gradients::default();
        if !self.is_requires_grad() {
            return grads;
        }
        grads.add(self.id(), vec![1.0]);
        let order = topo_order(self);
        for t in order.iter().rev() {
            let Some(op) = &t.node().op else { continue };
            // Intermediate gradients are not kept: only leaves' remain in the result.
            let Some(g) = grads.map.remove(&t.id()) else {
                continue;
            };
            backward_owned(op, t, g, &mut grads);
        }
        grads
    }
}

/// Adds `g` to `t`'s gradient when `t` wants one.
fn send(grads: &mut Gradients, t: &Tensor, g: Vec<f32>) {
    if t.is_requires_grad() {
        grads.add(t.id(), g);
    }
}

/// Ops whose input gradient is `g` itself take it without a copy; the rest go to
/// [`backward_op`].
fn backward_owned(op: &Op, out: &Tensor, g: Vec<f32>, grads: &mut Gradients) {
    match op {
        Op::Reshape(x) | Op::AddScalar(x) => send(grads, x, g),
        Op::Binary(BinaryOp::Add, a, b) if a.shape() == b.shape() => {
            match (a.is_requires_grad(), b.is_requires_grad()) {
                (true, true) => {
                    send(grads, a, buffer::copy(&g));
                    send(grads, b, g);
                }
                (true, false) => send(grads, a, g),
                (false, true) => send(grads, b, g),
                (false, false) => {}
            }
        }
        _ => {
            backward_op(op, out, &g, grads);
            recycle(g);
        }
    }
}

/// The gradient rule of each primitive: given `out = op(inputs)` and `g = dL/d out`,
/// add `dL/d input` for every input that requires it.
fn backward_op(op: &Op, out: &Tensor, g: &[f32], grads: &mut Gradients) {
    match op {
        Op::Binary(kind, a, b) => {
            let s = out.shape();
            // a gradient of the output's shape summed down to the operand's
            let down = |v: Vec<f32>, x: &Tensor| binary::sum_to_owned(v, s, x.shape());
            if a.is_requires_grad() {
                let da = match kind {
                    // g summed straight down to a's shape (a copy only when nothing is summed)
                    BinaryOp::Add | BinaryOp::Sub => binary::sum_to(g, s, a.shape()),
                    // d(a·b)/da = b
                    BinaryOp::Mul => down(bcast(BinaryOp::Mul, g, s, b), a),
                    // d(a/b)/da = 1/b
                    BinaryOp::Div => down(bcast(BinaryOp::Div, g, s, b), a),
                    // g where the output is a's value (a wins ties)
                    BinaryOp::Max | BinaryOp::Min => down(select(g, s, out, a, None), a),
                };
                send(grads, a, da);
            }
            if b.is_requires_grad() {
                let db = match kind {
                    BinaryOp::Add => binary::sum_to(g, s, b.shape()),
                    BinaryOp::Sub => down(g.iter().map(|v| -v).collect(), b),
                    BinaryOp::Mul => down(bcast(BinaryOp::Mul, g, s, a), b),
                    // d(a/b)/db = -a/b² = -out/b
                    BinaryOp::Div => {
                        let t = bcast(BinaryOp::Div, g, s, b);
                        down(t.iter().zip(out.data()).map(|(x, y)| -x * y).collect(), b)
                    }
                    // g where the output is b's value and not a's
                    BinaryOp::Max | BinaryOp::Min => down(select(g, s, out, b, Some(a)), b),
                };
                send(grads, b, db);
            }
        }
        Op::Scale(x, c) => send(grads, x, g.iter().map(|v| v * c).collect()),
        Op::AddScalar(x) => send(grads, x, buffer::copy(g)),
        // d x^p = p·x^(p-1)
        Op::Powf(x, p) => send(
            grads,
            x,
            g.iter()
                .zip(x.data())
                .map(|(gv, xv)| gv * p * xv.powf(p - 1.0))
                .collect(),
        ),
        Op::Unary(kind, x) => send(grads, x, unary::backward(*kind, x.data(), out.data(), g)),
        Op::ReluInPlace(x) => send(grads, x, unary::relu_backward_from_output(out.data(), g)),
        Op::Clamp(x, lo, hi) => send(
            grads,
            x,
            g.iter()
                .zip(x.data())
                .map(|(&gv, &xv)| if xv >= *lo && xv <= *hi { gv } else { 0.0 })
                .collect(),
        ),
        // out = a·b:  da = g·bᵀ,  db = aᵀ·g
        Op::MatMul(a, b) => {
            let (batch, m, k, n) = matmul_dims(a.shape(), b.shape());
            let shared_b = b.rank() == 2;
            if a.is_requires_grad() {
                let mut da = scratch(a.numel()); // each batch's product overwrites its part
                for i in 0..batch {
                    let bi = if shared_b {
                        b.data()
                    } else {
                        &b.data()[i * k * n..(i + 1) * k * n]
                    };
                    gemm(
                        &mut da[i * m * k..(i + 1) * m * k],
                        &g[i * m * n..(i + 1) * m * n],
                        bi,
                        m,
                        n,
                        k,
                        false,
                        true,
                        false,
                    );
                }
                send(grads, a, da);
            }
            if b.is_requires_grad() {
                let mut db = buffer::zeros(b.numel());
                for i in 0..batch {
                    let dbi = if shared_b {
                        &mut db[..]
                    } else {
                        &mut db[i * k * n..(i + 1) * k * n]
                    };
                    gemm(
                        dbi,
                        &a.data()[i * m * k..(i + 1) * m * k],
                        &g[i * m * n..(i + 1) * m * n],
                        k,
                        m,
                        n,
                        true,
                        false,
                        shared_b && i > 0,
                    );
                }
                send(grads, b, db);
            }
        }
        // out = x·w + b:  dx = g·wᵀ,  dw = xᵀ·g,  db = Σ_rows g
        Op::Linear(x, w, b) => {
            let (_, m, k, n) = matmul_dims(x.shape(), w.shape());
            // the two products have the same size (m·k·n): side by side, one task each,
            // when large enough to be worth a second thread
            let side_by_side = m * k * n >= PARALLEL_MIN_FLOPS;
            let (dx, dw) = crate::cpu::threads::join_if(
                side_by_side,
                || {
                    x.is_requires_grad().then(|| {
                        let mut dx = scratch(x.numel()); // the product overwrites every element
                        gemm(&mut dx, g, w.data(), m, n, k, false, true, false);
                        dx
                    })
                },
                || {
                    w.is_requires_grad().then(|| {
                        let mut dw = scratch(w.numel());
                        gemm(&mut dw, x.data(), g, k, m, n, true, false, false);
                        dw
                    })
                },
            );
            if let Some(dx) = dx {
                send(grads, x, dx);
            }
            if let Some(dw) = dw {
                send(grads, w, dw);
            }
            if let Some(b) = b {
                if b.is_requires_grad() {
                    send(grads, b, reduce::sum_axis(g, 1, m, n));
                }
            }
        }
        Op::SumAll(x) => send(grads, x, vec![g[0]; x.numel()]),
        Op::SumAxis(x, axis) => {
            let s = x.shape();
            let (outer, inner) = (s[..*axis].iter().product(), s[axis + 1..].iter().product());
            let mut dx = buffer::zeros(x.numel());
            reduce::sum_axis_backward(g, &mut dx, outer, s[*axis], inner);
            send(grads, x, dx);
        }
        Op::Reshape(x) => send(grads, x, buffer::copy(g)),
        Op::Transpose(x) => {
            let r = x.rank();
            let (rows, cols) = (x.shape()[r - 2], x.shape()[r - 1]);
            // g has the transposed shape [cols, rows]
            send(grads, x, transpose_last2(g, cols, rows));
        }
        Op::Softmax(x) => {
            let mut dx = buffer::zeros(x.numel());
            softmax::softmax_backward(out.data(), g, &mut dx, *x.shape().last().unwrap());
            send(grads, x, dx);
        }
        Op::LogSoftmax(x) => {
            let mut dx = buffer::zeros(x.numel());
            softmax::log_softmax_backward(out.data(), g, &mut dx, *x.shape().last().unwrap());
            send(grads, x, dx);
        }
        // y = conv(x, w) + b: dx = col2im(wᵀ·dy), dw = Σ dy·colᵀ, db = Σ dy (cpu/conv.rs)
        Op::Conv2d(x, w, b, geom, relu) => {
            let need_b = b.as_ref().is_some_and(|b| b.is_requires_grad());
            let need = (x.is_requires_grad(), w.is_requires_grad(), need_b);
            let of = if *relu {
                conv::DyOf::Relu(out.data())
            } else {
                conv::DyOf::Conv
            };
            let (dx, dw, db) = conv::conv2d_backward(x.data(), w.data(), g, geom, need, of);
            if let Some(dx) = dx {
                send(grads, x, dx);
            }
            if let Some(dw) = dw {
                send(grads, w, dw);
            }
            if let (Some(b), Some(db)) = (b, db) {
                send(grads, b, db);
            }
        }
        Op::Conv2dPool(x, w, b, geom, arg) => {
            let need_b = b.as_ref().is_some_and(|b| b.is_requires_grad());
            let need = (x.is_requires_grad(), w.is_requires_grad(), need_b);
            let of = conv::DyOf::ReluMaxPool {
                pooled: out.data(),
                arg,
            };
            let (dx, dw, db) = conv::conv2d_backward(x.data(), w.data(), g, geom, need, of);
            for (t, d) in [(Some(x), dx), (Some(w), dw), (b.as_ref(), db)] {
                if let (Some(t), Some(d)) = (t, d) {
                    send(grads, t, d);
                }
            }
        }
        Op::BatchNorm(x, gamma, beta, saved) => {
            let (n, c) = (x.shape()[0], x.shape()[1]);
            let s = x.numel() / (n * c).max(1);
            let reduce =
                |v: &mut [f64]| saved.sync.as_ref().map_or((), |(c, _)| c.all_reduce_f64(v));
            let sync = saved
                .sync
                .as_ref()
                .map(|(_, m)| (&reduce as &dyn Fn(&mut [f64]), *m));
            let (mean, inv_std) = (&saved.mean, &saved.inv_std);
            let (dx, dg, db) =
                batch_norm::backward(x.data(), g, n, c, s, gamma.data(), mean, inv_std, sync);
            send(grads, x, dx);
            send(grads, gamma, dg);
            send(grads, beta, db);
        }
        Op::MaxPool2d(x, arg, geom) => send(grads, x, pool::max_pool2d_backward(g, arg, geom)),
        Op::AvgPool2d(x, geom) => send(grads, x, pool::avg_pool2d_backward(g, geom)),
        Op::Norm(x, gamma, beta, saved) => {
            let d = gamma.numel();
            let (mean, r) = &**saved;
            let center = beta.is_some();
            let (dx, dg, db) = layer_norm::backward(x.data(), g, d, gamma.data(), mean, r, center);
            send(grads, x, dx);
            send(grads, gamma, dg);
            if let Some(b) = beta {
                send(grads, b, db);
            }
        }
        Op::Embedding(table, idx) => {
            let (indices, padding) = &**idx;
            let d = table.shape()[1];
            let mut dt = vec![0.0; table.numel()];
            for (gr, &i) in g.chunks(d).zip(indices) {
                if Some(i) != *padding {
                    dt[i * d..(i + 1) * d]
                        .iter_mut()
                        .zip(gr)
                        .for_each(|(a, b)| *a += b);
                }
            }
            send(grads, table, dt);
        }
        Op::Permute(x, axes) => send(
            grads,
            x,
            layout::permute(g, out.shape(), &layout::inverse(axes)),
        ),
        Op::Pad(x, pads) => send(grads, x, layout::unpad(g, x.shape(), pads)),
        Op::Narrow(x, pads) => send(grads, x, layout::pad(g, out.shape(), pads)),
        Op::Upsample2d(x, geom) => send(grads, x, upsample::upsample2d_backward(g, geom)),
        Op::Recurrent(r) => {
            let (h0, c0) = (r.h0.as_ref(), r.c0.as_ref());
            let d = recurrent::backward(
                &r.geom,
                r.x.data(),
                r.weights(),
                h0.map(|v| v.data()),
                c0.map(|v| v.data()),
                out.data(),
                &r.saved,
                g,
                r.x.is_requires_grad(),
            );
            if let Some(dx) = d.dx {
                send(grads, &r.x, dx);
            }
            send(grads, &r.w_ih, d.dw_ih);
            send(grads, &r.w_hh, d.dw_hh);
            for (bias, db) in [(&r.b_ih, d.db_ih), (&r.b_hh, d.db_hh)] {
                if let Some(bias) = bias {
                    send(grads, bias, db);
                }
            }
            if let Some(h0) = h0 {
                send(grads, h0, d.dh0);
            }
            if let Some(c0) = c0 {
                send(grads, c0, d.dc0);
            }
        }
        Op::Attention(a) => {
            let drop = a.dropout.as_ref().map(|(r, keep)| (*r, keep.as_slice()));
            let qkv = (a.q.data(), a.k.data(), a.v.data());
            let (dq, dk, dv) = attention::backward(&a.geom, qkv, &a.p, drop, g);
            send(grads, &a.q, dq);
            send(grads, &a.k, dk);
            send(grads, &a.v, dv);
        }
        Op::Concat(parts, axis) => {
            for (p, d) in parts.iter().zip(concat_backward(parts, *axis, g)) {
                send(grads, p, d);
            }
        }
        Op::Pick(x, idx) => {
            let mut dx = buffer::zeros(x.numel());
            index::pick_rows_backward(g, idx, &mut dx, x.shape()[1]);
            send(grads, x, dx);
        }
    }
}

/// `g` where `out` equals `x` (broadcast) and, if given, differs from `not` (broadcast); zero
/// elsewhere: the gradient of max/min to the operand that was chosen.
fn select(g: &[f32], s: &[usize], out: &Tensor, x: &Tensor, not: Option<&Tensor>) -> Vec<f32> {
    let zeros = vec![0.0; g.len()];
    let xs = bcast(BinaryOp::Add, &zeros, s, x);
    let ns = not.map(|n| bcast(BinaryOp::Add, &zeros, s, n));
    (0..g.len())
        .map(|i| {
            let o = out.data()[i];
            let taken = o == xs[i] && ns.as_ref().is_none_or(|n| o != n[i]);
            if taken {
                g[i]
            } else {
                0.0
            }
        })
        .collect()
}

/// `g ∘ other`, with `other` broadcast to `g`'s shape.
fn bcast(op: BinaryOp, g: &[f32], g_shape: &[usize], other: &Tensor) -> Vec<f32> {
    binary::forward(op, g, g_shape, other.data(), other.shape(), g_shape)
}
