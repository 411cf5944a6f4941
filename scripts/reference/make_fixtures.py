"""Generates the PyTorch reference values that nabla's tests compare against.

    python3 scripts/reference/make_fixtures.py      # writes tests/fixtures/*.json

Needs torch and numpy (not needed by CI: the fixtures are committed). Every input is drawn
from a fixed numpy seed and written next to the expected outputs, so the Rust tests rebuild
exactly the same situation. Conventions: nabla's Dense kernel is [in, out] (PyTorch's
Linear.weight transposed).
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")
rng = np.random.default_rng(20261123)


def arr(shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def flat(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().numpy()
    return [float(v) for v in np.asarray(t, dtype=np.float32).ravel()]


def dump(name, obj):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def dense_fixture():
    """Dense forward/backward for each activation: L = sum(y * r)."""
    x, w, b, r = arr((4, 5)), arr((5, 3)), arr((3,)), arr((4, 3))
    cases = {}
    # name -> (nabla activation spec, torch function)
    acts = {
        "linear": ("linear", lambda z: z),
        "relu": ("relu", torch.relu),
        "sigmoid": ("sigmoid", torch.sigmoid),
        "tanh": ("tanh", torch.tanh),
        "softmax": ("softmax", lambda z: torch.softmax(z, -1)),
        "log_softmax": ("log_softmax", lambda z: torch.log_softmax(z, -1)),
        "gelu": ("gelu", F.gelu),
        "gelu_tanh": ("gelu_tanh", lambda z: F.gelu(z, approximate="tanh")),
        "leaky_relu": ("leaky_relu", F.leaky_relu),
        "leaky_relu_0.2": ({"type": "leaky_relu", "negative_slope": 0.2}, lambda z: F.leaky_relu(z, 0.2)),
        "elu": ("elu", F.elu),
        "elu_0.5": ({"type": "elu", "alpha": 0.5}, lambda z: F.elu(z, 0.5)),
        "selu": ("selu", F.selu),
        "swish": ("swish", F.silu),
        "softplus": ("softplus", F.softplus),
    }
    for name, (spec, act) in acts.items():
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        lin = torch.nn.Linear(5, 3)
        with torch.no_grad():
            lin.weight.copy_(wt.t())
            lin.bias.copy_(bt)
        y = act(xt @ wt + bt)
        y_ref = act(lin(xt))
        assert torch.allclose(y, y_ref, atol=1e-6)
        (y * torch.tensor(r)).sum().backward()
        cases[name] = {"activation": spec, "y": flat(y), "dx": flat(xt.grad), "dkernel": flat(wt.grad),
                       "dbias": flat(bt.grad)}
    dump("dense.json", {"x": flat(x), "kernel": flat(w), "bias": flat(b), "r": flat(r),
                        "x_shape": [4, 5], "kernel_shape": [5, 3], "cases": cases})


def loss_fixture():
    logits = arr((6, 4), 2.0)
    labels = [0, 3, 1, 1, 2, 3]
    soft = np.abs(arr((6, 4))) + 0.1
    soft = (soft / soft.sum(1, keepdims=True)).astype(np.float32)
    pred, target = arr((6, 3)), arr((6, 3))
    probs_raw = np.abs(arr((6, 4))) + 0.05  # probabilities not produced by a softmax
    probs_raw = (probs_raw / probs_raw.sum(1, keepdims=True)).astype(np.float32)
    cases = {}

    def record(name, fn, inp):
        t = torch.tensor(inp, requires_grad=True)
        loss = fn(t)
        loss.backward()
        cases[name] = {"loss": float(loss.detach()), "grad": flat(t.grad)}

    lab = torch.tensor(labels)
    record("sparse_from_logits", lambda z: F.cross_entropy(z, lab), logits)
    record("categorical_from_logits", lambda z: F.cross_entropy(z, torch.tensor(soft)), logits)
    record("mse", lambda z: F.mse_loss(z, torch.tensor(target)), pred)
    # on probabilities that are not a softmax output: clip to [1e-7, 1-1e-7], then log
    record("categorical_probs", lambda p: -(torch.tensor(soft) * torch.log(p.clamp(1e-7, 1 - 1e-7))).sum(1).mean(), probs_raw)
    record("sparse_probs", lambda p: F.nll_loss(torch.log(p.clamp(1e-7, 1 - 1e-7)), lab), probs_raw)
    st = torch.tensor(soft)
    record("categorical_smoothing", lambda z: F.cross_entropy(z, st * 0.9 + 0.1 / 4), logits)
    record("sparse_smoothing", lambda z: F.cross_entropy(z, lab, label_smoothing=0.1), logits)
    w = torch.tensor([0.5, 2.0, 1.0, 0.0, 3.0, 1.5])
    record("sparse_weighted", lambda z: (F.cross_entropy(z, lab, reduction="none") * w).sum() / 6, logits)
    record("kl_from_logits", lambda z: F.kl_div(F.log_softmax(z, -1), st, reduction="batchmean"), logits)
    record("kl_probs", lambda p: (st * (torch.log(st) - torch.log(p.clamp(1e-7, 1)))).sum(1).mean(), probs_raw)
    tt = torch.tensor(target)
    record("mae", lambda z: F.l1_loss(z, tt), pred)
    record("huber", lambda z: F.huber_loss(z, tt), pred)
    record("huber_0.5", lambda z: F.huber_loss(z, tt, delta=0.5), pred)
    record("log_cosh", lambda z: torch.log(torch.cosh(z - tt)).mean(), pred)
    binary = (rng.random((6, 3)) > 0.5).astype(np.float32)
    bt = torch.tensor(binary)
    record("bce_from_logits", lambda z: F.binary_cross_entropy_with_logits(z, bt), pred)
    record("bce_smoothing", lambda z: F.binary_cross_entropy_with_logits(z, bt * 0.8 + 0.1), pred)
    sig = 1 / (1 + np.exp(-pred))
    record("bce_probs", lambda p: -(bt * torch.log(p.clamp(1e-7, 1 - 1e-7))
                                    + (1 - bt) * torch.log((1 - p).clamp(1e-7, 1 - 1e-7))).mean(), sig.astype(np.float32))
    record("hinge", lambda z: torch.relu(1 - (2 * bt - 1) * z).mean(), pred)
    dump("losses.json", {"logits": flat(logits), "logits_shape": [6, 4], "labels": labels,
                         "binary": flat(binary), "weights": [0.5, 2.0, 1.0, 0.0, 3.0, 1.5],
                         "soft_targets": flat(soft), "pred": flat(pred), "target": flat(target),
                         "pred_shape": [6, 3], "probs": flat(probs_raw), "cases": cases})


def optimizer_fixture():
    """A Dense(3 -> 2) on 8 fixed samples, MSE loss, 5 full-batch steps per optimiser."""
    x, y, w0, b0 = arr((8, 3)), arr((8, 2)), arr((3, 2), 0.5), arr((2,), 0.1)
    configs = {
        "sgd": ("sgd", {"learning_rate": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
        "sgd_momentum": ("sgd", {"learning_rate": 0.05, "momentum": 0.9},
                         lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        "sgd_nesterov": ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
                         lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
        "sgd_decay_dampening": ("sgd", {"learning_rate": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
                                lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
        "adam": ("adam", {"learning_rate": 0.01}, lambda p: torch.optim.Adam(p, lr=0.01)),
        "adam_betas": ("adam", {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
                       lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
        "adam_amsgrad_decay": ("adam", {"learning_rate": 0.05, "amsgrad": True, "weight_decay": 0.1},
                               lambda p: torch.optim.Adam(p, lr=0.05, amsgrad=True, weight_decay=0.1)),
        "adamw": ("adamw", {"learning_rate": 0.05}, lambda p: torch.optim.AdamW(p, lr=0.05)),
        "adamw_amsgrad": ("adamw", {"learning_rate": 0.05, "weight_decay": 0.3, "amsgrad": True},
                          lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.3, amsgrad=True)),
        "rmsprop": ("rmsprop", {"learning_rate": 0.01}, lambda p: torch.optim.RMSprop(p, lr=0.01)),
        "rmsprop_centered_momentum": ("rmsprop", {"learning_rate": 0.01, "rho": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.05},
                                      lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.05)),
        "adagrad": ("adagrad", {"learning_rate": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
                    lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.01)),
        "adadelta": ("adadelta", {"learning_rate": 1.0}, lambda p: torch.optim.Adadelta(p, lr=1.0)),
        "adadelta_rho": ("adadelta", {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-5, "weight_decay": 0.02},
                         lambda p: torch.optim.Adadelta(p, lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.02)),
        "adamax": ("adamax", {"learning_rate": 0.02}, lambda p: torch.optim.Adamax(p, lr=0.02)),
        "nadam": ("nadam", {"learning_rate": 0.02}, lambda p: torch.optim.NAdam(p, lr=0.02)),
        "nadam_decay": ("nadam", {"learning_rate": 0.02, "momentum_decay": 0.01, "weight_decay": 0.05},
                        lambda p: torch.optim.NAdam(p, lr=0.02, momentum_decay=0.01, weight_decay=0.05)),
    }
    # gradient clipping: (config, clipping, torch optimiser, torch clip function)
    clipped = {
        "sgd_clip_global_norm": ("sgd", {"learning_rate": 0.1}, {"global_clipnorm": 0.5},
                                 lambda p: torch.optim.SGD(p, lr=0.1),
                                 lambda ps: torch.nn.utils.clip_grad_norm_(ps, 0.5)),
        "adam_clip_value": ("adam", {"learning_rate": 0.05}, {"clipvalue": 0.2},
                            lambda p: torch.optim.Adam(p, lr=0.05),
                            lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.2)),
    }
    cases = {}
    all_cases = {k: (kind, cfg, {}, make, None) for k, (kind, cfg, make) in configs.items()}
    all_cases.update(clipped)
    for name, (kind, cfg, clip, make, clip_fn) in all_cases.items():
        w = torch.tensor(w0, requires_grad=True)
        b = torch.tensor(b0, requires_grad=True)
        opt = make([w, b])
        traj = []
        for _ in range(5):
            loss = F.mse_loss(torch.tensor(x) @ w + b, torch.tensor(y))
            opt.zero_grad()
            loss.backward()
            if clip_fn:
                clip_fn([w, b])
            opt.step()
            traj.append({"loss": float(loss.detach()), "kernel": flat(w), "bias": flat(b)})
        cases[name] = {"config": dict(type=kind, **cfg), "clipping": clip, "steps": traj}
    dump("optimizers.json", {"x": flat(x), "y": flat(y), "kernel": flat(w0), "bias": flat(b0),
                             "cases": cases})


def conv_fixture():
    """Conv2d (stride, padding, dilation, groups), MaxPool2d and AvgPool2d (padding not
    counted), forward and gradients of L = sum(y * r)."""
    cases = {}
    x = arr((2, 4, 7, 6))
    convs = {
        "conv_plain": dict(stride=1, padding=0, dilation=1, groups=1),
        "conv_strided_padded": dict(stride=(2, 1), padding=(1, 2), dilation=1, groups=1),
        "conv_dilated_grouped": dict(stride=1, padding=1, dilation=(2, 1), groups=2),
    }
    for name, kw in convs.items():
        g = kw["groups"]
        w, b = arr((6, 4 // g, 3, 2)), arr((6,))
        xt, wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
        y = F.conv2d(xt, wt, bt, **kw)
        r = torch.tensor(arr(tuple(y.shape)))
        (y * r).sum().backward()
        ph, pw = kw["padding"] if isinstance(kw["padding"], tuple) else (kw["padding"],) * 2
        sh, sw = kw["stride"] if isinstance(kw["stride"], tuple) else (kw["stride"],) * 2
        dh, dw = kw["dilation"] if isinstance(kw["dilation"], tuple) else (kw["dilation"],) * 2
        cases[name] = {"w": flat(w), "w_shape": list(w.shape), "b": flat(b), "stride": [sh, sw],
                       "pad": [ph, ph, pw, pw], "dilation": [dh, dw], "groups": g,
                       "y": flat(y), "y_shape": list(y.shape), "r": flat(r),
                       "dx": flat(xt.grad), "dw": flat(wt.grad), "db": flat(bt.grad)}
    pools = {
        "max_2x2": ("max", (2, 2), (2, 2), (0, 0)),
        "max_3x2_s21_p1": ("max", (3, 2), (2, 1), (1, 1)),
        "avg_2x2": ("avg", (2, 2), (2, 2), (0, 0)),
        "avg_3x3_s2_p1": ("avg", (3, 3), (2, 2), (1, 1)),
    }
    for name, (kind, k, s, p) in pools.items():
        xt = torch.tensor(x, requires_grad=True)
        y = (F.max_pool2d(xt, k, s, p) if kind == "max"
             else F.avg_pool2d(xt, k, s, p, count_include_pad=False))
        r = torch.tensor(arr(tuple(y.shape)))
        (y * r).sum().backward()
        cases[name] = {"kind": kind, "k": list(k), "stride": list(s), "pad": [p[0], p[0], p[1], p[1]],
                       "y": flat(y), "y_shape": list(y.shape), "r": flat(r), "dx": flat(xt.grad)}
    dump("conv.json", {"x": flat(x), "x_shape": list(x.shape), "cases": cases})


def batch_norm_fixture():
    """BatchNorm2d (momentum 0.1 = nabla's 0.9, eps 1e-5): a training step's output, gradients
    and running statistics, then the eval output with those statistics."""
    x, w, b = arr((2, 3, 4, 5)), arr((3,)), arr((3,))
    bn = torch.nn.BatchNorm2d(3, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(w))
        bn.bias.copy_(torch.tensor(b))
    xt = torch.tensor(x, requires_grad=True)
    bn.train()
    y = bn(xt)
    r = torch.tensor(arr(tuple(y.shape)))
    (y * r).sum().backward()
    bn.eval()
    x2 = arr((2, 3, 4, 5))
    y_eval = bn(torch.tensor(x2))
    dump("batch_norm.json", {"x": flat(x), "gamma": flat(w), "beta": flat(b), "r": flat(r), "y": flat(y),
                             "dx": flat(xt.grad), "dgamma": flat(bn.weight.grad), "dbeta": flat(bn.bias.grad),
                             "running_mean": flat(bn.running_mean), "running_var": flat(bn.running_var),
                             "x2": flat(x2), "y_eval": flat(y_eval)})


def norm_embedding_fixture():
    """LayerNorm and RMSNorm over the last axis (eps 1e-5) and Embedding with padding_idx:
    outputs and gradients of sum(y * r)."""
    x, w, b = arr((2, 3, 6)), arr((6,)), arr((6,))
    out = {"x": flat(x), "gamma": flat(w), "beta": flat(b)}
    for name, layer in [("layer_norm", torch.nn.LayerNorm(6, eps=1e-5)),
                        ("rms_norm", torch.nn.RMSNorm(6, eps=1e-5))]:
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(w))
            if getattr(layer, "bias", None) is not None:
                layer.bias.copy_(torch.tensor(b))
        xt = torch.tensor(x, requires_grad=True)
        y = layer(xt)
        r = torch.tensor(arr(tuple(y.shape)))
        (y * r).sum().backward()
        out[name] = {"r": flat(r), "y": flat(y), "dx": flat(xt.grad), "dgamma": flat(layer.weight.grad)}
        if getattr(layer, "bias", None) is not None:
            out[name]["dbeta"] = flat(layer.bias.grad)
    table = arr((7, 4))
    emb = torch.nn.Embedding(7, 4, padding_idx=0)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(table))
    idx = [[3, 0, 6], [3, 1, 0]]
    y = emb(torch.tensor(idx))
    r = torch.tensor(arr(tuple(y.shape)))
    (y * r).sum().backward()
    out["embedding"] = {"table": flat(table), "idx": [i for row in idx for i in row], "r": flat(r),
                        "y": flat(y), "dtable": flat(emb.weight.grad)}
    dump("norm_embedding.json", out)


def conv1d_upsample_fixture():
    """Conv1d (stride 2, padding 1, dilation 2) and bilinear / nearest upsampling by 2."""
    x, w, b = arr((2, 3, 9)), arr((4, 3, 3)), arr((4,))
    xt, wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    y = F.conv1d(xt, wt, bt, stride=2, padding=1, dilation=2)
    r = torch.tensor(arr(tuple(y.shape)))
    (y * r).sum().backward()
    out = {"x": flat(x), "w": flat(w), "b": flat(b), "r": flat(r), "y": flat(y),
           "dx": flat(xt.grad), "dw": flat(wt.grad), "db": flat(bt.grad)}
    u = arr((1, 2, 3, 4))
    for mode in ["nearest", "bilinear"]:
        ut = torch.tensor(u, requires_grad=True)
        kw = {} if mode == "nearest" else {"align_corners": False}
        y = F.interpolate(ut, scale_factor=2, mode=mode, **kw)
        r = torch.tensor(arr(tuple(y.shape)))
        (y * r).sum().backward()
        out[mode] = {"r": flat(r), "y": flat(y), "dx": flat(ut.grad)}
    out["u"] = flat(u)
    dump("conv1d_upsample.json", out)


def attention_fixture():
    """nn.MultiheadAttention(6, 2 heads, batch_first) as self-attention, with and without a
    causal mask: outputs and gradients of sum(y * r). nabla's Wq = in_proj_weight[:6].T, etc."""
    x = arr((2, 4, 6))
    mha = torch.nn.MultiheadAttention(6, 2, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.tensor(arr((18, 6), 0.4)))
        mha.in_proj_bias.copy_(torch.tensor(arr((18,), 0.1)))
        mha.out_proj.weight.copy_(torch.tensor(arr((6, 6), 0.4)))
        mha.out_proj.bias.copy_(torch.tensor(arr((6,), 0.1)))
    w, b = mha.in_proj_weight.detach().numpy(), mha.in_proj_bias.detach().numpy()
    out = {"x": flat(x), "wq": flat(w[0:6].T), "wk": flat(w[6:12].T), "wv": flat(w[12:18].T),
           "wo": flat(mha.out_proj.weight.detach().numpy().T), "bq": flat(b[0:6]), "bk": flat(b[6:12]),
           "bv": flat(b[12:18]), "bo": flat(mha.out_proj.bias)}
    for name, mask in [("full", None), ("causal", torch.triu(torch.ones(4, 4, dtype=torch.bool), 1))]:
        mha.zero_grad()
        xt = torch.tensor(x, requires_grad=True)
        y, _ = mha(xt, xt, xt, attn_mask=mask, need_weights=False)
        r = torch.tensor(arr(tuple(y.shape)))
        (y * r).sum().backward()
        out[name] = {"r": flat(r), "y": flat(y), "dx": flat(xt.grad),
                     "dwq": flat(mha.in_proj_weight.grad[0:6].T), "dwo": flat(mha.out_proj.weight.grad.T),
                     "dbv": flat(mha.in_proj_bias.grad[12:18])}
    dump("attention.json", out)


def recurrent_fixture():
    """nn.LSTM (2 layers, bidirectional), nn.GRU (2 layers) and nn.RNN (ReLU, bidirectional),
    batch_first, from given initial states: outputs, final states and the gradients of
    sum(y * r) + sum(h_n * rh) (+ sum(c_n * rc)) for the input, the initial states and every
    weight, in named_parameters order (nabla names and orders its weights the same way)."""
    out = {}
    cases = [
        ("lstm", torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)),
        ("gru", torch.nn.GRU(3, 4, num_layers=2, batch_first=True)),
        ("rnn_relu", torch.nn.RNN(3, 4, nonlinearity="relu", bidirectional=True, batch_first=True)),
    ]
    for name, mod in cases:
        d = 2 if mod.bidirectional else 1
        states = d * mod.num_layers
        with torch.no_grad():
            for p in mod.parameters():
                p.copy_(torch.tensor(arr(tuple(p.shape), 0.5)))
        x = torch.tensor(arr((2, 5, 3)), requires_grad=True)
        h0 = torch.tensor(arr((states, 2, 4), 0.5), requires_grad=True)
        c0 = torch.tensor(arr((states, 2, 4), 0.5), requires_grad=True)
        if name == "lstm":
            y, (hn, cn) = mod(x, (h0, c0))
        else:
            y, hn = mod(x, h0)
        r, rh = torch.tensor(arr(tuple(y.shape))), torch.tensor(arr(tuple(hn.shape)))
        loss = (y * r).sum() + (hn * rh).sum()
        case = {"x": flat(x), "h0": flat(h0), "r": flat(r), "rh": flat(rh)}
        if name == "lstm":
            rc = torch.tensor(arr(tuple(cn.shape)))
            loss = loss + (cn * rc).sum()
            case.update({"c0": flat(c0), "rc": flat(rc), "cn": flat(cn)})
        loss.backward()
        case.update({"y": flat(y), "hn": flat(hn), "dx": flat(x.grad), "dh0": flat(h0.grad),
                     "weights": [flat(p) for p in mod.parameters()],
                     "names": [n for n, _ in mod.named_parameters()],
                     "grads": [flat(p.grad) for p in mod.parameters()]})
        if name == "lstm":
            case["dc0"] = flat(c0.grad)
        out[name] = case
    dump("recurrent.json", out)


def residual_fixture():
    """A residual block, relu(x + BN(conv(relu(BN(conv(x)))))), 3x3 'same' convolutions
    without bias, batch norm in training mode: output, gradients of L = sum(y * r) for the
    input and every weight, and the running statistics after the pass. Its own seed, so
    adding it changed no other fixture."""
    g = np.random.default_rng(20261207)
    a = lambda shape: g.standard_normal(shape).astype(np.float32)
    x, w1, w2 = a((2, 4, 5, 5)), a((4, 4, 3, 3)) * 0.3, a((4, 4, 3, 3)) * 0.3
    gamma1, beta1, gamma2, beta2 = a((4,)), a((4,)), a((4,)), a((4,))
    conv1 = torch.nn.Conv2d(4, 4, 3, padding=1, bias=False)
    conv2 = torch.nn.Conv2d(4, 4, 3, padding=1, bias=False)
    bn1, bn2 = torch.nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        for m, v in [(conv1.weight, w1), (conv2.weight, w2), (bn1.weight, gamma1),
                     (bn1.bias, beta1), (bn2.weight, gamma2), (bn2.bias, beta2)]:
            m.copy_(torch.tensor(v))
    xt = torch.tensor(x, requires_grad=True)
    y = torch.relu(xt + bn2(conv2(torch.relu(bn1(conv1(xt))))))
    r = a(tuple(y.shape))
    (y * torch.tensor(r)).sum().backward()
    dump("residual.json", {
        "x": flat(x), "r": flat(r), "y": flat(y), "dx": flat(xt.grad),
        # in nabla's weight order: conv1, bn1 (gamma, beta), conv2, bn2
        "weights": [flat(w1), flat(gamma1), flat(beta1), flat(w2), flat(gamma2), flat(beta2)],
        "grads": [flat(p.grad) for p in [conv1.weight, bn1.weight, bn1.bias, conv2.weight,
                                         bn2.weight, bn2.bias]],
        "running": [flat(bn1.running_mean), flat(bn1.running_var), flat(bn2.running_mean),
                    flat(bn2.running_var)]})


ALL = ["dense", "loss", "optimizer", "conv", "batch_norm", "norm_embedding", "conv1d_upsample",
       "attention", "recurrent", "residual"]

if __name__ == "__main__":
    import sys
    # `make_fixtures.py residual` remakes one fixture; the earlier ones share one random stream,
    # so they are only remade all together
    for name in sys.argv[1:] or ALL:
        globals()[name + "_fixture"]()
    print("wrote", os.path.normpath(OUT))

