"""CTC loss / gradient / decoding (rnnkit.ops.ctc and ctc_decode, seed §2.6) against PyTorch, brute force and
finite differences."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.ops import ctc, ctc_decode
from tests.helpers.gradcheck import numerical_grad

# No RuntimeWarning (overflow, log(0), inf - inf) may escape the op.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

REDUCTIONS = ("none", "sum", "mean")


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def torch_ctc(logits, targets, input_lengths, target_lengths, blank=0, reduction="mean",
              zero_infinity=False, d_loss=None):
    """Loss and d loss / d logits from torch: leaf logits -> log_softmax -> (T, B, C) -> ctc_loss."""
    x = torch.tensor(logits, requires_grad=True)
    lp = F.log_softmax(x, dim=-1).transpose(0, 1)
    loss = F.ctc_loss(lp, torch.as_tensor(np.asarray(targets, dtype=np.int64)),
                      torch.as_tensor(np.asarray(input_lengths, dtype=np.int64)),
                      torch.as_tensor(np.asarray(target_lengths, dtype=np.int64)),
                      blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    if d_loss is None:
        d_loss = np.ones(loss.shape) if reduction == "none" else 1.0
    loss.backward(torch.as_tensor(np.asarray(d_loss, dtype=logits.dtype)))
    return loss.detach().numpy(), x.grad.numpy()


def needed_frames(labels):
    """Fewest frames an alignment needs: one per label plus a blank between adjacent repeats."""
    labels = list(labels)
    return len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))


def random_case(rng, batch, T, C, blank, max_label_len, pad_value=None):
    """Random logits and padded targets with repeats, empty targets and tight input lengths."""
    nonblank = np.array([c for c in range(C) if c != blank])
    seqs, in_lens = [], []
    for _ in range(batch):
        while True:
            L = int(rng.integers(0, max_label_len + 1))
            lab = rng.choice(nonblank, size=L)
            if L >= 2 and rng.random() < 0.5:          # force some adjacent repeats
                i = int(rng.integers(1, L))
                lab[i] = lab[i - 1]
            need = needed_frames(lab)
            if need <= T:
                break
        seqs.append(lab)
        r = rng.random()
        in_lens.append(need if r < 0.3 else (T if r < 0.5 else int(rng.integers(max(need, 1), T + 1))))
    width = max(1, max(len(s) for s in seqs))
    pad = blank if pad_value is None else pad_value
    targets = np.full((batch, width), pad, dtype=np.int64)
    for i, s in enumerate(seqs):
        targets[i, :len(s)] = s
    logits = rng.standard_normal((batch, T, C)) * 2.0
    return logits, targets, np.array(in_lens), np.array([len(s) for s in seqs]), seqs


def assert_parity(logits, targets, il, tl, blank, reduction, zero_infinity=False, d_loss=None, tol=1e-8):
    loss, cache = ctc.forward(logits, targets, il, tl, blank=blank, reduction=reduction,
                              zero_infinity=zero_infinity)
    if d_loss is None:
        d_loss = np.ones(len(il), dtype=logits.dtype) if reduction == "none" else 1.0
    grad = ctc.backward(cache, d_loss)
    t_loss, t_grad = torch_ctc(logits, targets, il, tl, blank, reduction, zero_infinity, d_loss)
    assert np.shape(loss) == np.shape(t_loss)
    np.testing.assert_allclose(loss, t_loss, rtol=1e-10, atol=tol)
    assert grad.shape == logits.shape and grad.dtype == logits.dtype
    np.testing.assert_allclose(grad, t_grad, rtol=0, atol=tol)
    return loss, grad


def brute_force_probs(logprobs, blank):
    """P(labelling) for every labelling, by enumerating all C**T alignments of one sequence."""
    T, C = logprobs.shape
    out = {}
    for path in itertools.product(range(C), repeat=T):
        lab = tuple(c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c))
        out[lab] = out.get(lab, 0.0) + math.exp(sum(logprobs[t, c] for t, c in enumerate(path)))
    return out


def np_log_softmax(x):
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


# ----------------------------------------------------------------------------------------------
# loss and gradient against torch (float64)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_parity_random_cases(seed, reduction):
    rng = np.random.default_rng(seed)
    batch = int(rng.integers(1, 6))
    T = int(rng.integers(1, 31))
    C = int(rng.integers(2, 9))
    blank = int(rng.integers(0, C)) if seed % 2 else 0
    logits, targets, il, tl, _ = random_case(rng, batch, T, C, blank, max_label_len=min(T, 10))
    d_loss = rng.standard_normal(batch) if reduction == "none" else 0.7
    loss, _ = assert_parity(logits, targets, il, tl, blank, reduction, d_loss=d_loss)
    assert np.all(np.isfinite(loss))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("blank", [0, 2, 4])
def test_parity_hand_cases(reduction, blank):
    """Repeats, target lengths 0 and 1, tight input lengths, padded targets, blank != 0."""
    rng = np.random.default_rng(100 + blank)
    C = 5
    lab = [c for c in range(C) if c != blank]
    a, b, c = lab[0], lab[1], lab[2]
    seqs = [[a, a, b], [b], [], [a, b, b, a], [c, c, c]]
    il = np.array([4, 1, 3, 5, 5])                   # rows 0, 1, 3, 4: exactly the frames needed
    T = 7
    targets = np.full((5, 4), blank)
    for i, s in enumerate(seqs):
        targets[i, :len(s)] = s
    tl = np.array([len(s) for s in seqs])
    logits = rng.standard_normal((5, T, C))
    assert_parity(logits, targets, il, tl, blank, reduction)


def test_parity_all_full_length_and_ragged_list_targets():
    rng = np.random.default_rng(7)
    logits, targets, _, tl, seqs = random_case(rng, 4, 20, 6, 0, 6)
    il = np.full(4, 20)
    ref, ref_cache = ctc.forward(logits, targets, il, tl, reduction="none")
    t_loss, t_grad = torch_ctc(logits, targets, il, tl, reduction="none")
    np.testing.assert_allclose(ref, t_loss, rtol=1e-10, atol=1e-8)
    # list-of-arrays targets (target_lengths given or inferred) and input_lengths=None
    for tlen in (tl, None):
        loss, cache = ctc.forward(logits, [np.asarray(s) for s in seqs], None, tlen, reduction="none")
        np.testing.assert_array_equal(loss, ref)
        np.testing.assert_array_equal(ctc.backward(cache, np.ones(4)), ctc.backward(ref_cache, np.ones(4)))
    np.testing.assert_allclose(ctc.backward(ref_cache, np.ones(4)), t_grad, atol=1e-8)


def test_padding_values_are_ignored():
    rng = np.random.default_rng(3)
    logits, targets, il, tl, _ = random_case(rng, 5, 15, 6, 0, 5)
    garbage = targets.copy()
    for i in range(5):
        garbage[i, tl[i]:] = -7                         # never read: past target_lengths
    la, ca = ctc.forward(logits, targets, il, tl, reduction="none")
    lb, cb = ctc.forward(logits, garbage, il, tl, reduction="none")
    np.testing.assert_array_equal(la, lb)
    np.testing.assert_array_equal(ctc.backward(ca, np.ones(5)), ctc.backward(cb, np.ones(5)))
    # padded frames: gradient exactly zero, and their logits do not change the loss
    g = ctc.backward(ca, np.ones(5))
    logits2 = logits.copy()
    for i in range(5):
        assert not g[i, il[i]:].any()
        logits2[i, il[i]:] = rng.standard_normal(logits2[i, il[i]:].shape) * 50
    np.testing.assert_array_equal(ctc.forward(logits2, targets, il, tl, reduction="none")[0], la)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_impossible_alignments_match_torch(reduction):
    """Too few frames for the labels (repeats need a blank): inf loss / NaN grad, or 0 and 0."""
    rng = np.random.default_rng(11)
    C, T = 4, 6
    targets = np.array([[1, 1, 2, 0], [1, 2, 3, 1], [2, 0, 0, 0], [1, 0, 0, 0]])
    tl = np.array([3, 4, 1, 1])
    il = np.array([3, 6, 2, 0])                         # row 0: needs 4 > 3; row 3: no frames
    logits = rng.standard_normal((4, T, C))
    # zero_infinity=False: loss inf where impossible (inf in the reductions); grad NaN there (torch too)
    loss, cache = ctc.forward(logits, targets, il, tl, reduction=reduction)
    d = np.ones(4) if reduction == "none" else 1.0
    grad = ctc.backward(cache, d)
    t_loss, t_grad = torch_ctc(logits, targets, il, tl, reduction=reduction)
    np.testing.assert_allclose(loss, t_loss, rtol=1e-10, atol=1e-8)   # inf == inf
    assert np.all(np.isinf(loss)) if reduction != "none" else (np.isinf(loss) == [1, 0, 0, 1]).all()
    np.testing.assert_allclose(grad, t_grad, rtol=0, atol=1e-8)       # NaN where torch has NaN
    assert np.isnan(grad[0, :3]).all() and not np.isnan(grad[1:]).any() and not grad[0, 3:].any()
    # zero_infinity=True: loss 0 and gradient 0 for those samples, others unchanged
    loss, grad = assert_parity(logits, targets, il, tl, 0, reduction, zero_infinity=True)
    assert np.all(np.isfinite(loss))
    assert not grad[0].any() and not grad[3].any()


def test_zero_input_length_empty_target_has_probability_one():
    logits = np.random.default_rng(0).standard_normal((2, 3, 3))
    loss, cache = ctc.forward(logits, np.zeros((2, 1), dtype=np.int64), [0, 3], [0, 0], reduction="none")
    t_loss, t_grad = torch_ctc(logits, np.zeros((2, 1), dtype=np.int64), [0, 3], [0, 0], reduction="none")
    np.testing.assert_allclose(loss, t_loss, atol=1e-12)
    assert loss[0] == 0
    np.testing.assert_allclose(ctc.backward(cache, np.ones(2)), t_grad, atol=1e-12)


def test_loss_matches_brute_force_enumeration():
    """-log of the summed probability of every alignment that collapses to y (seed §2.6)."""
    rng = np.random.default_rng(5)
    T, C = 5, 3
    logits = rng.standard_normal((1, T, C))
    probs = brute_force_probs(np_log_softmax(logits[0]), blank=0)
    for y in [(), (1,), (1, 1), (2, 1, 2), (1, 1, 2)]:
        loss, _ = ctc.forward(logits, [np.array(y, dtype=np.int64)], None, None, reduction="sum")
        assert loss == pytest.approx(-math.log(probs[y]), rel=1e-12)


# ----------------------------------------------------------------------------------------------
# finite differences, dtypes
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradient_finite_differences(reduction):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((2, 5, 4))
    targets = np.array([[1, 1], [3, 2]])
    il, tl = np.array([5, 4]), np.array([2, 2])
    w = np.array([0.3, -1.2])

    def f():
        loss, _ = ctc.forward(logits, targets, il, tl, reduction=reduction)
        return float(np.sum(loss * w)) if reduction == "none" else float(loss)

    _, cache = ctc.forward(logits, targets, il, tl, reduction=reduction)
    analytic = ctc.backward(cache, w if reduction == "none" else 1.0)
    numeric = numerical_grad(f, logits)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    assert not analytic[1, 4:].any()                   # frame past input_lengths


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_in_float32_out(reduction):
    rng = np.random.default_rng(4)
    logits64, targets, il, tl, _ = random_case(rng, 3, 12, 5, 0, 4)
    logits = logits64.astype(np.float32)
    loss, cache = ctc.forward(logits, targets, il, tl, reduction=reduction)
    assert np.asarray(loss).dtype == np.float32
    d = np.ones(3, dtype=np.float32) if reduction == "none" else np.float32(1.0)
    grad = ctc.backward(cache, d)
    assert grad.dtype == np.float32
    # a float64 upstream gradient does not widen the result either
    assert ctc.backward(cache, np.ones(3) if reduction == "none" else 1.0).dtype == np.float32
    t_loss, t_grad = torch_ctc(logits, targets, il, tl, reduction=reduction)
    np.testing.assert_allclose(loss, t_loss, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, t_grad, rtol=0, atol=1e-5)
    # the float64 computation agrees to float32 precision
    np.testing.assert_allclose(loss, ctc.forward(logits64.astype(np.float32).astype(np.float64), targets,
                                                 il, tl, reduction=reduction)[0], rtol=1e-5)


def test_extreme_logits_stay_finite_and_warning_free():
    """Very confident (and very wrong) outputs: log space keeps the loss finite, like torch."""
    rng = np.random.default_rng(9)
    for dtype in (np.float32, np.float64):
        logits = (rng.standard_normal((2, 30, 6)) * 60).astype(dtype)
        targets = np.array([[1, 2, 2, 3, 4, 5], [5, 5, 5, 4, 4, 0]])
        il, tl = np.array([30, 20]), np.array([6, 5])
        loss, cache = ctc.forward(logits, targets, il, tl, reduction="none")
        grad = ctc.backward(cache, np.ones(2, dtype=dtype))
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        t_loss, t_grad = torch_ctc(logits, targets, il, tl, reduction="none")
        if dtype == np.float64:
            np.testing.assert_allclose(loss, t_loss, rtol=1e-10)
            np.testing.assert_allclose(grad, t_grad, atol=1e-8)
        else:
            # losses of ~800 nats: float32 rounding in alpha/beta is ~1e-4 in log space. The
            # occupancies are normalised per frame, which keeps our float32 gradient within
            # 1e-5 of the exact (float64) one; torch's float32 gradient is off by ~1e-4 here.
            l64, c64 = ctc.forward(logits.astype(np.float64), targets, il, tl, reduction="none")
            g64 = ctc.backward(c64, np.ones(2))
            np.testing.assert_allclose(loss, l64, rtol=1e-6)
            np.testing.assert_allclose(grad, g64, atol=2e-5)
            np.testing.assert_allclose(loss, t_loss, rtol=1e-5)
            np.testing.assert_allclose(grad, t_grad, atol=1e-3)


def test_gradient_rows_sum_to_zero():
    """softmax - occupancy: both sum to one over the classes on every valid frame."""
    rng = np.random.default_rng(1)
    logits, targets, il, tl, _ = random_case(rng, 4, 16, 6, 0, 5)
    _, cache = ctc.forward(logits, targets, il, tl, reduction="sum")
    g = ctc.backward(cache, 1.0)
    np.testing.assert_allclose(g.sum(-1), 0.0, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# decoding
# ----------------------------------------------------------------------------------------------
def frames_logits(argmaxes, C, peak=5.0, rng=None):
    rng = np.random.default_rng(0) if rng is None else rng
    x = rng.standard_normal((len(argmaxes), C)) * 0.1
    x[np.arange(len(argmaxes)), argmaxes] += peak
    return x


def test_greedy_decode_hand_cases():
    x = np.stack([frames_logits([1, 1, 0, 1, 2, 2, 0], 3),
                  frames_logits([0, 0, 0, 0, 0, 0, 0], 3),
                  frames_logits([2, 0, 2, 2, 1, 1, 1], 3)])
    out = ctc_decode.greedy_decode(x)
    assert [o.tolist() for o in out] == [[1, 1, 2], [], [2, 2, 1]]
    assert all(o.dtype == np.int64 for o in out)
    out = ctc_decode.greedy_decode(x, input_lengths=[4, 7, 1])
    assert [o.tolist() for o in out] == [[1, 1], [], [2]]
    # log-probabilities decode the same; another blank index
    assert [o.tolist() for o in ctc_decode.greedy_decode(np_log_softmax(x))] == [[1, 1, 2], [], [2, 2, 1]]
    assert [o.tolist() for o in ctc_decode.greedy_decode(x, blank=2)] == [[1, 0, 1, 0], [0], [0, 1]]


def test_beam_search_beats_greedy_when_best_path_misleads():
    # each frame: P(blank)=0.6, P(1)=0.4. Best path is "--" -> [] (0.36), but
    # P([1]) = P(1-) + P(-1) + P(11) = 0.24 + 0.24 + 0.16 = 0.64.
    lp = np.log(np.array([[[0.6, 0.4], [0.6, 0.4]]]))
    assert ctc_decode.greedy_decode(lp)[0].tolist() == []
    out, scores = ctc_decode.beam_search_decode(lp, beam_width=4, return_scores=True)
    assert out[0].tolist() == [1]
    assert scores[0] == pytest.approx(math.log(0.64), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_beam_search_exact_with_wide_beam(seed):
    """With a beam wider than the number of prefixes, prefix search is exact: compare to brute force."""
    rng = np.random.default_rng(seed)
    T, C = 5, 3
    blank = seed % C
    logits = rng.standard_normal((2, T, C)) * 1.5
    out, scores = ctc_decode.beam_search_decode(logits, beam_width=1000, blank=blank, return_scores=True)
    for b in range(2):
        probs = brute_force_probs(np_log_softmax(logits[b]), blank)
        best = max(probs, key=probs.get)
        assert tuple(out[b].tolist()) == best
        assert scores[b] == pytest.approx(math.log(probs[best]), rel=1e-10)
        # and the CTC loss of that labelling is -score
        loss, _ = ctc.forward(logits[b:b + 1], [out[b]], None, None, blank=blank, reduction="sum")
        assert loss == pytest.approx(-scores[b], rel=1e-10)


def test_beam_search_handles_repeats_and_lengths():
    # frames a a - a: the repeated label must come out twice (blank separates), once without it
    x = frames_logits([1, 1, 0, 1], 3, peak=8.0)[None]
    assert ctc_decode.beam_search_decode(x, beam_width=5)[0].tolist() == [1, 1]
    assert ctc_decode.beam_search_decode(x, input_lengths=[2], beam_width=5)[0].tolist() == [1]
    assert ctc_decode.beam_search_decode(x, input_lengths=[0], beam_width=5)[0].tolist() == []


@pytest.mark.parametrize("seed", range(3))
def test_beam_search_agrees_with_greedy_on_peaked_outputs(seed):
    rng = np.random.default_rng(seed)
    B, T, C = 4, 25, 6
    am = rng.integers(0, C, size=(B, T))
    x = np.stack([frames_logits(am[b], C, peak=12.0, rng=rng) for b in range(B)])
    il = rng.integers(1, T + 1, size=B)
    greedy = ctc_decode.greedy_decode(x, il)
    beam = ctc_decode.beam_search_decode(x, il, beam_width=8)
    assert [g.tolist() for g in greedy] == [b.tolist() for b in beam]
    assert [b.tolist() for b in ctc_decode.beam_search_decode(x, il, beam_width=1)] == [g.tolist() for g in greedy]


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------
def _good():
    logits = np.zeros((2, 5, 4))
    targets = np.array([[1, 2], [3, 0]])
    return logits, targets, np.array([5, 4]), np.array([2, 1])


@pytest.mark.parametrize("change, name", [
    (lambda a: a.update(logits=np.zeros((5, 4))), "logits"),
    (lambda a: a.update(logits=np.full((2, 5, 4), np.nan)), "logits"),
    (lambda a: a["logits"].__setitem__((0, 0, 0), np.inf), "logits"),
    (lambda a: a.update(input_lengths=np.array([6, 4])), "input_lengths"),
    (lambda a: a.update(input_lengths=np.array([-1, 4])), "input_lengths"),
    (lambda a: a.update(input_lengths=np.array([5, 4, 4])), "input_lengths"),
    (lambda a: a.update(input_lengths=np.array([[5, 4]])), "input_lengths"),
    (lambda a: a.update(target_lengths=np.array([3, 1])), "target_lengths"),
    (lambda a: a.update(target_lengths=np.array([2, -1])), "target_lengths"),
    (lambda a: a.update(target_lengths=np.array([2])), "target_lengths"),
    (lambda a: a.update(targets=np.array([[1, 4], [3, 0]])), "targets"),
    (lambda a: a.update(targets=np.array([[1, -2], [3, 0]])), "targets"),
    (lambda a: a.update(targets=np.array([[1, 0], [3, 0]])), "targets"),       # label == blank
    (lambda a: a.update(targets=np.array([[1, 2]])), "targets"),               # batch mismatch
    (lambda a: a.update(targets=np.zeros((2, 2, 1), dtype=int)), "targets"),
    (lambda a: a.update(targets=[np.array([1, 2])]), "targets"),
    (lambda a: a.update(targets=[np.array([1, 2]), np.array([3])], target_lengths=np.array([2, 2])),
     "target_lengths"),
    (lambda a: a.update(targets=np.array([[1, 2], [3, 0]]), target_lengths=None), "target_lengths"),
    (lambda a: a.update(blank=4), "blank"),
    (lambda a: a.update(blank=3), "targets"),                                  # label 3 == blank
    (lambda a: a.update(reduction="avg"), "reduction"),
])
def test_forward_validation_names_the_argument(change, name):
    logits, targets, il, tl = _good()
    args = dict(logits=logits, targets=targets, input_lengths=il, target_lengths=tl)
    change(args)
    with pytest.raises(ValueError, match=name):
        ctc.forward(**args)


def test_validation_types_and_backward():
    logits, targets, il, tl = _good()
    with pytest.raises(TypeError, match="targets"):
        ctc.forward(logits, targets.astype(float) + 0.5, il, tl)
    with pytest.raises(TypeError, match="input_lengths"):
        ctc.forward(logits, targets, il + 0.5, tl)
    _, cache = ctc.forward(logits, targets, il, tl, reduction="none")
    with pytest.raises(ValueError, match="d_loss"):
        ctc.backward(cache, 1.0)                          # 'none' needs one per sample
    _, cache = ctc.forward(logits, targets, il, tl, reduction="mean")
    with pytest.raises(ValueError, match="d_loss"):
        ctc.backward(cache, np.ones(2))
    with pytest.raises(ValueError, match="d_loss"):
        ctc.backward(cache, np.nan)


def test_decoder_validation():
    x = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match="logits"):
        ctc_decode.greedy_decode(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="input_lengths"):
        ctc_decode.greedy_decode(x, input_lengths=[6, 5])
    with pytest.raises(ValueError, match="input_lengths"):
        ctc_decode.beam_search_decode(x, input_lengths=[5])
    with pytest.raises(ValueError, match="beam_width"):
        ctc_decode.beam_search_decode(x, beam_width=0)
    with pytest.raises(ValueError, match="blank"):
        ctc_decode.beam_search_decode(x, blank=-1)
    with pytest.raises(ValueError, match="logits"):
        ctc_decode.beam_search_decode(np.full((1, 2, 3), np.nan))
