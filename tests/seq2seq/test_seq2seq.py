"""rnnkit.seq2seq (seed §6): the encoder-decoder's full gradient against finite differences and against
the same model in PyTorch autograd (float64, ragged sources and targets), beam search against greedy
decoding and against brute force, saving and loading, and a smoke test that must learn to reverse."""
import itertools

import numpy as np
import pytest

from rnnkit.seq2seq import Seq2Seq, graph
from rnnkit.seq2seq import model as model_module

SETUPS = [  # (attention, cell, bidirectional, merge)
    ("general", "lstm", True, "concat"), ("general", "gru", True, "concat"),
    ("additive", "lstm", True, "concat"), ("additive", "gru", True, "concat"),
    (None, "lstm", True, "concat"), (None, "gru", True, "concat"),
    ("dot", "lstm", True, "sum"), ("general", "gru", False, "concat"),
]
SOURCES = [[1, 2, 3, 4, 5], [6], [2, 2, 3]]                # full length, length 1, in between
TARGETS = [[3, 1], [4, 4, 2, 1], []]                      # ragged; the empty one is just the end token


def make(attention, cell, bidirectional, merge, seed=0, **kw):
    m = Seq2Seq(8, 6, embed_dim=3, hidden=4, cell=cell, bidirectional_encoder=bidirectional,
                attention=attention, merge=merge, start_id=5, end_id=0, attn_size=5, dtype="float64",
                seed=seed, **kw)
    rng = np.random.default_rng(seed + 1)
    for v in m.params.values():                           # biases and v non-zero, weights a bit larger
        v += rng.standard_normal(v.shape) * 0.3
    return m


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: "-".join(map(str, s)))
def test_full_gradient_matches_finite_differences(setup):
    m = make(*setup)
    batch = m.prepare(SOURCES, TARGETS)
    loss, grads = m.loss_and_grads(*batch)
    assert sorted(grads) == sorted(m.params)
    rng = np.random.default_rng(3)
    eps = 1e-6
    for name, w in m.params.items():
        flat, g = w.reshape(-1), grads[name].reshape(-1)
        assert g.dtype == np.float64 and np.isfinite(g).all()
        for i in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            lp = m.loss_and_grads(*batch)[0]
            flat[i] = old - eps
            lm = m.loss_and_grads(*batch)[0]
            flat[i] = old
            num = (lp - lm) / (2 * eps)
            assert abs(num - g[i]) <= 1e-7 + 1e-5 * abs(num), (name, i, g[i], num)
    # the gradient is not trivially zero where it must not be
    assert np.abs(grads["enc.W_x"]).max() > 1e-4 and np.abs(grads["E_src"]).max() > 1e-4


def test_padding_is_never_read():
    m = make("additive", "lstm", True, "concat")
    src, sl, ti, to, tl = m.prepare(SOURCES, TARGETS)
    loss, grads = m.loss_and_grads(src, sl, ti, to, tl)
    pad_src = np.arange(src.shape[1])[None, :] >= sl[:, None]
    pad_tgt = np.arange(ti.shape[1])[None, :] >= tl[:, None]
    src2, ti2, to2 = src.copy(), ti.copy(), to.copy()
    src2[pad_src], ti2[pad_tgt], to2[pad_tgt] = 7, 3, 4
    loss2, grads2 = m.loss_and_grads(src2, sl, ti2, to2, tl)
    assert loss2 == loss
    for k in grads:
        np.testing.assert_array_equal(grads2[k], grads[k], err_msg=k)


# -- PyTorch autograd parity ---------------------------------------------------------------------
def torch_loss(torch, m, P, src, sl, ti, to, tl):
    """The same model written directly in PyTorch: cells by their equations, padding by masks."""
    H = m.hidden

    def step(p, x, state):
        h = state[0]
        a = x @ p["W_x"].T + p["b"] + p["b_h"]
        if m.cell.name == "lstm":
            a = a + h @ p["W_h"].T
            i, f, g, o = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid(), a[:, 2 * H:3 * H].tanh(), a[:, 3 * H:].sigmoid()
            c = f * state[1] + i * g
            return (o * c.tanh(), c)
        rz = (a[:, :2 * H] + h @ p["W_h"][:2 * H].T).sigmoid()
        r, z = rz[:, :H], rz[:, H:]
        n = (a[:, 2 * H:] + (r * h) @ p["W_h"][2 * H:].T).tanh()
        return ((1 - z) * h + z * n,)

    def run(p, x, state, lengths):
        outs = []
        for t in range(x.shape[1]):
            keep = torch.as_tensor(t < lengths)[:, None]
            new = step(p, x[:, t], state)
            state = tuple(torch.where(keep, a, b) for a, b in zip(new, state))
            outs.append(torch.where(keep, new[0], torch.zeros_like(new[0])))
        return torch.stack(outs, 1), state

    def rev(x, lengths):
        T = x.shape[1]
        t = np.arange(T)
        idx = np.where(t[None] < lengths[:, None], lengths[:, None] - 1 - t[None], t[None])
        return x[torch.arange(x.shape[0])[:, None], torch.as_tensor(idx)]

    def cellp(prefix, suffix=""):
        return {k: P[prefix + k + suffix] for k in ("W_x", "W_h", "b", "b_h")}

    B = src.shape[0]
    zeros = tuple(torch.zeros(B, H, dtype=torch.float64) for _ in m.cell.state_names)
    x = P["E_src"][torch.as_tensor(src)]
    enc, fin = run(cellp("enc."), x, zeros, sl)
    if m.bidirectional:
        out_b, fin_b = run(cellp("enc.", "_reverse"), rev(x, sl), zeros, sl)
        out_b = rev(out_b, sl)
        if m.merge == "sum":
            enc, fin = enc + out_b, tuple(a + b for a, b in zip(fin, fin_b))
        else:
            enc = torch.cat([enc, out_b], -1)
            fin = tuple(torch.cat([a, b], -1) @ P[f"bridge_{n}.W_y"].T + P[f"bridge_{n}.c"]
                        for n, a, b in zip(m.cell.state_names, fin, fin_b))
    hd, _ = run(cellp("dec."), P["E_tgt"][torch.as_tensor(ti)], fin, tl)
    u = hd
    if m.attention is not None:
        if m.attention == "additive":
            e = (torch.tanh((hd @ P["att.W_q"].T)[:, :, None] + (enc @ P["att.W_k"].T)[:, None]) @ P["att.v"])
        elif m.attention == "general":
            e = hd @ (enc @ P["att.W_a"].T).transpose(1, 2)
        else:
            e = hd @ enc.transpose(1, 2)
        pad = torch.arange(enc.shape[1])[None, None, :] >= torch.as_tensor(sl)[:, None, None]
        a = torch.softmax(e.masked_fill(pad, float("-inf")), -1)
        u = torch.cat([a @ enc, hd], -1)
    logits = torch.tanh(u @ P["comb.W_y"].T + P["comb.c"]) @ P["out.W_y"].T + P["out.c"]
    valid = torch.as_tensor(np.arange(ti.shape[1])[None] < tl[:, None])
    return torch.nn.functional.cross_entropy(logits[valid], torch.as_tensor(to)[valid])


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: "-".join(map(str, s)))
def test_parity_with_pytorch_autograd(setup):
    import torch
    m = make(*setup)
    batch = m.prepare(SOURCES, TARGETS)
    loss, grads = m.loss_and_grads(*batch)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in m.params.items()}
    ref = torch_loss(torch, m, P, *batch)
    ref.backward()
    assert abs(loss - ref.item()) < 1e-12
    for k, t in P.items():
        np.testing.assert_allclose(grads[k], t.grad.numpy(), rtol=0, atol=1e-10, err_msg=k)


# -- decoding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("setup", SETUPS[:6], ids=lambda s: "-".join(map(str, s)))
def test_beam_one_equals_greedy(setup):
    for seed in range(3):
        m = make(*setup, seed=seed)
        src, sl = m.prepare(SOURCES)
        assert [list(s) for s in m.beam_search(src, sl, beam=1, max_len=6)] == \
               [list(s) for s in m.greedy(src, sl, max_len=6)]


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
@pytest.mark.parametrize("attention", ["general", None])
def test_beam_search_equals_brute_force(attention, alpha):
    """Target vocabulary {0, 1, 2, 3}, 0 being both the start and the end token, max_len 3: a beam wide
    enough to hold every hypothesis must return the best of all sequences by the normalised score,
    each scored by teacher forcing."""
    max_len = 3
    for seed in range(3):
        m = Seq2Seq(5, 4, embed_dim=3, hidden=4, attention=attention, start_id=0, end_id=0, dtype="float64",
                    seed=seed)
        rng = np.random.default_rng(seed)
        for v in m.params.values():
            v += rng.standard_normal(v.shape) * 1.0   # peaked distributions: a real choice to make
        src, sl = m.prepare([[1, 2, 3], [4]])
        got = m.beam_search(src, sl, beam=4 ** max_len, max_len=max_len, alpha=alpha, return_scores=True)
        for b in range(2):
            cands = []                                    # (tokens, tgt_out, normalising length)
            for n in range(max_len + 1):
                for seq in itertools.product([1, 2, 3], repeat=n):
                    if n < max_len:
                        cands.append((list(seq), list(seq) + [0], n + 1))
                    else:
                        cands.append((list(seq), list(seq), n))
            scores = []
            for _seq, out, L in cands:
                ti = np.array([[0] + out[:-1]])
                lp = m.log_likelihood(src[b:b + 1], sl[b:b + 1], ti, np.array([out]), np.array([len(out)]))[0]
                scores.append(lp / L ** alpha)
            best = int(np.argmax(scores))
            tokens, score, _ = got[b]
            assert list(tokens) == cands[best][0]
            assert abs(score - scores[best]) < 1e-10


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_batched_beam_search_equals_one_source_at_a_time(alpha):
    """Ragged sources decoded together give each source's own result (float64: no BLAS rounding
    differences between batch sizes); beams of 1 to 6 hypotheses."""
    m = make("general", "lstm", True, "concat")
    src, sl = m.prepare(SOURCES)
    for beam in (1, 3, 6):
        together = m.beam_search(src, sl, beam=beam, max_len=7, alpha=alpha, return_scores=True)
        for b, (tokens, score, logp) in enumerate(together):
            alone = m.beam_search(src[b:b + 1, :sl[b]], sl[b:b + 1], beam=beam, max_len=7, alpha=alpha,
                                  return_scores=True)[0]
            assert list(tokens) == list(alone[0])
            assert abs(score - alone[1]) < 1e-12 and abs(logp - alone[2]) < 1e-12


def test_save_load_roundtrip(tmp_path):
    m = make("additive", "gru", True, "concat", reset_after=True)
    batch = m.prepare(SOURCES, TARGETS)
    path = tmp_path / "s2s.npz"
    m.save(path)
    m2 = Seq2Seq.load(path)
    assert m2.get_config() == m.get_config()
    assert m2.loss_and_grads(*batch)[0] == m.loss_and_grads(*batch)[0]
    with np.load(path, allow_pickle=False) as f:              # readable without pickle
        assert "__config__" in f.files


def test_learns_to_reverse_digit_strings():
    rng = np.random.default_rng(0)
    words = [list(rng.integers(0, 10, rng.integers(1, 5))) for _ in range(1500)]
    # tgt vocabulary: the 10 digits, start 10, end 11
    m = Seq2Seq(10, 12, embed_dim=16, hidden=32, cell="gru", attention="general", start_id=10, end_id=11,
                seed=0)
    train, test = words[:1300], words[1300:]
    m.fit(*m.prepare(train, [w[::-1] for w in train]), epochs=12, batch_size=32, lr=1e-2, clip=5.0)
    src, sl = m.prepare(test)
    out = m.greedy(src, sl, max_len=6)
    assert all(list(o) == w[::-1] for o, w in zip(out, test))
    beams = m.beam_search(src[:20], sl[:20], beam=3, max_len=6)
    assert all(list(o) == w[::-1] for o, w in zip(beams, test[:20]))


# -- inspection, batching, files -----------------------------------------------------------------
@pytest.mark.parametrize("attention", ["general", "additive"])
def test_attention_weights_are_those_used_while_decoding(attention):
    """Teacher-forcing the greedy output reproduces, row by row, the weights of each decoding step;
    rows are distributions over the valid source steps, zero past the source and past the target."""
    m = make(attention, "lstm", True, "concat")
    src, sl = m.prepare(SOURCES)
    hyps = m.greedy(src, sl, max_len=6)
    a = m.attention_weights(src, sl, hyps)
    enc, state, _ = graph.encode(m.params, m, src, sl)
    prev = np.full(len(SOURCES), m.start_id)
    for t in range(a.shape[1]):
        _, state, w = graph.decoder_step(m.params, m, enc, sl, prev, state)
        for b, h in enumerate(hyps):
            if t <= len(h):
                np.testing.assert_allclose(a[b, t], w[b], rtol=0, atol=1e-12)
                assert abs(a[b, t].sum() - 1) < 1e-12 and not a[b, t, sl[b]:].any()
            else:
                assert not a[b, t].any()
        prev = np.array([h[t] if t < len(h) else m.end_id for h in hyps])
    with pytest.raises(ValueError, match="no attention"):
        make(None, "lstm", True, "concat").attention_weights(src, sl, hyps)


@pytest.mark.parametrize("bucket", [False, True])
def test_batches_cover_every_pair_once_and_buckets_cut_padding(bucket):
    rng = np.random.default_rng(0)
    src_l, tgt_l = rng.integers(1, 20, 1000), rng.integers(1, 20, 1000)
    batches = model_module._batches(src_l, tgt_l, 16, np.random.default_rng(1), bucket)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert all(len(b) == 16 for b in batches[:-1] if not bucket)
    padded = sum(len(b) * src_l[b].max() for b in batches)
    assert (padded < 1.2 * src_l.sum()) == bucket     # random batches pad about 1.8x
    ordered = model_module._batches(src_l, tgt_l, 16, None, False)
    assert np.array_equal(np.concatenate(ordered), np.arange(1000))


def test_load_refuses_other_files_and_keeps_metadata(tmp_path):
    m = make("general", "gru", True, "concat")
    m.save(tmp_path / "m.npz", metadata={"letters": "abc"})
    assert Seq2Seq.load(tmp_path / "m.npz").metadata == {"letters": "abc"}
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    np.save(tmp_path / "one.npy", np.zeros(2))
    (tmp_path / "text.npz").write_text("not a zip")
    for name in ("other.npz", "one.npy", "text.npz"):
        with pytest.raises(ValueError, match="not a Seq2Seq model file"):
            Seq2Seq.load(tmp_path / name)
    with pytest.raises(TypeError, match="metadata"):
        m.save(tmp_path / "m.npz", metadata=["not", "a", "dict"])
    assert Seq2Seq.load(tmp_path / "m.npz").metadata == {"letters": "abc"}     # the old file kept
