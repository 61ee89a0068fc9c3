"""``Seq2Seq``: a recurrent encoder-decoder with Luong attention (no input feeding), trained with
teacher forcing and Adam, decoded greedily or by beam search (seed §6). The computation and its
backward are in ``graph``, decoding in ``decode``.

Arrays: sources ``src`` (B, Ts) int token ids with ``src_lengths`` (B,); targets as two shifted
(B, Tt) arrays ``tgt_in`` (start token, y_1 .. y_{n-1}) and ``tgt_out`` (y_1 .. y_n, where y_n is the
end token) with ``tgt_lengths``; ``prepare`` builds all of them from lists of sequences. Padded
positions may hold any valid id (they are never read).

File format (``save`` / ``load``): one ``.npz`` with every parameter under its name,
``__config__``, a JSON string of the constructor's arguments, and ``__metadata__``, a JSON string of
the user's ``metadata`` dict (e.g. the vocabularies); read without pickle, written atomically.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np

from .. import optim
from .._atomic import atomic_write
from ..layers.base import glorot_uniform, orthogonal
from ..ops import _checks, get_cell
from ..ops import attention as att
from . import decode, graph

MERGES = ("concat", "sum")


class Seq2Seq:
    """Recurrent encoder-decoder with Luong attention, trained with teacher forcing (seed §6).

    ``hidden`` is the size of each encoder direction and of the decoder; ``merge`` combines the
    encoder's two directions ("concat": 2*hidden features, final states projected to the decoder's
    size by a Dense; "sum"). ``attention`` "general", "dot", "additive" or None; the dot score needs
    hidden-sized encoder outputs (``merge="sum"`` when bidirectional).

    Parameters
    ----------
    src_vocab : int
        Source vocabulary size, >= 1.
    tgt_vocab : int
        Target vocabulary size, >= 2 (it holds ``start_id`` and ``end_id``).
    embed_dim : int, optional
        Size of the source and target embeddings. Default 64.
    hidden : int, optional
        Size of each encoder direction and of the decoder. Default 128.
    cell : {"lstm", "gru", "rnn"}, optional
        Recurrent cell of the encoder and the decoder. Default ``"lstm"``.
    bidirectional_encoder : bool, optional
        Run the encoder in both directions. Default True.
    attention : {"general", "dot", "additive"} or None, optional
        Attention score; None for no attention. Default ``"general"``.
    merge : {"concat", "sum"}, optional
        How the encoder's two directions are combined. Default ``"concat"``.
    start_id : int, optional
        Target token that starts decoding, in [0, tgt_vocab). Default 1.
    end_id : int, optional
        Target token that ends a sequence, in [0, tgt_vocab). Default 2.
    attn_size : int, optional
        Hidden size of the additive score. Default None (``hidden``).
    dtype : {"float32", "float64"}, optional
        Dtype of the parameters. Default ``"float32"``.
    seed : int, optional
        Seed of the parameter initialisation. Default 0.
    **cell_options : dict
        The cell's options, e.g. ``nonlinearity="relu"`` for ``"rnn"``, ``reset_after=True`` for ``"gru"``.

    Raises
    ------
    TypeError
        If an integer or boolean argument has the wrong type, or a cell option is unknown.
    ValueError
        If a size or id is out of range, or ``cell``, ``attention``, ``merge``, ``dtype`` or a cell
        option's value is unknown (also when the dot score gets encoder outputs of another size).

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3, seed=0)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> history = model.fit(src, src_len, tgt_in, tgt_out, tgt_len, epochs=2, batch_size=2)
    >>> len(history), [out.dtype.name for out in model.greedy(src, src_len, max_len=4)]
    (2, ['int64', 'int64'])
    """

    def __init__(self, src_vocab, tgt_vocab, embed_dim=64, hidden=128, cell="lstm", bidirectional_encoder=True,
                 attention="general", merge="concat", start_id=1, end_id=2, attn_size=None, dtype="float32",
                 seed=0, **cell_options):
        self.src_vocab = _checks.check_int(src_vocab, "src_vocab", minimum=1)
        self.tgt_vocab = _checks.check_int(tgt_vocab, "tgt_vocab", minimum=2)
        self.embed_dim = _checks.check_int(embed_dim, "embed_dim", minimum=1)
        self.hidden = _checks.check_int(hidden, "hidden", minimum=1)
        self.cell = get_cell(cell)
        self.cell_options = self.cell.options(**cell_options)
        self.bidirectional = _checks.check_bool(bidirectional_encoder, "bidirectional_encoder")
        if merge not in MERGES:
            raise ValueError(f"merge: expected one of {MERGES}, got {merge!r:.50}")
        self.merge = merge
        self.attention = None if attention is None else att.check_score(attention)
        self.start_id = _checks.check_int(start_id, "start_id", minimum=0, maximum=self.tgt_vocab - 1)
        self.end_id = _checks.check_int(end_id, "end_id", minimum=0, maximum=self.tgt_vocab - 1)
        self.attn_size = hidden if attn_size is None else _checks.check_int(attn_size, "attn_size", minimum=1)
        self.dtype = np.dtype(dtype)
        if self.dtype not in _checks.FLOAT_DTYPES:
            raise ValueError(f"dtype: expected float32 or float64, got {self.dtype}")
        self.seed = int(seed)
        self.enc_size = hidden * (2 if self.bidirectional and merge == "concat" else 1)
        self.params = self._init_params(np.random.default_rng(self.seed))
        self.optimizer = None
        self.metadata = {}

    # -- parameters ----------------------------------------------------------------------------
    def param_shapes(self) -> dict:
        """Shapes of every parameter, keyed by name (the names are listed in ``graph``'s docstring).

        Returns
        -------
        dict of str to tuple of int
            ``{name: shape}``, e.g. ``"E_src": (src_vocab, embed_dim)``, ``"out.W_y": (tgt_vocab, hidden)``.
        """
        D, H, He = self.embed_dim, self.hidden, self.enc_size
        shapes = {"E_src": (self.src_vocab, D), "E_tgt": (self.tgt_vocab, D)}
        dirs = ("", "_reverse") if self.bidirectional else ("",)
        for s in dirs:
            shapes.update({f"enc.{k}{s}": v for k, v in self.cell.param_shapes(D, H).items()})
        shapes.update({f"dec.{k}": v for k, v in self.cell.param_shapes(D, H).items()})
        if self.bidirectional and self.merge == "concat":
            for n in self.cell.state_names:
                shapes.update({f"bridge_{n}.W_y": (H, 2 * H), f"bridge_{n}.c": (H,)})
        if self.attention is not None:
            shapes.update({f"att.{k}": v for k, v in
                           att.param_shapes(self.attention, H, He, self.attn_size).items()})
        comb_in = H + (He if self.attention is not None else 0)
        shapes.update({"comb.W_y": (H, comb_in), "comb.c": (H,), "out.W_y": (self.tgt_vocab, H),
                       "out.c": (self.tgt_vocab,)})
        return shapes

    def _init_params(self, rng) -> dict:
        dt, H, G = self.dtype, self.hidden, self.cell.gates
        params = {}
        for k, shape in self.param_shapes().items():
            name = k.split(".")[-1].split("_reverse")[0]
            if k.startswith("E_"):
                params[k] = (rng.standard_normal(shape) * 0.1).astype(dt)
            elif name == "W_h":
                params[k] = np.concatenate([orthogonal(rng, H, dt) for _ in range(G)])
            elif name == "b":
                params[k] = self.cell.init_bias(H, dt)
            elif len(shape) == 2:
                params[k] = glorot_uniform(rng, shape[0], shape[1], dt)
            elif k == "att.v":
                params[k] = rng.uniform(-0.1, 0.1, shape).astype(dt)
            else:
                params[k] = np.zeros(shape, dtype=dt)
        return params

    def num_params(self) -> int:
        """Total number of scalar parameters.

        Returns
        -------
        int
            The sum of the sizes of all parameter arrays.
        """
        return int(sum(v.size for v in self.params.values()))

    # -- inputs --------------------------------------------------------------------------------
    def _src(self, src, src_lengths):
        src = _checks.check_token_ids(src, self.src_vocab, "src").astype(np.int64)
        lengths = _checks.check_lengths(src_lengths, src.shape[0], src.shape[1], "src_lengths")
        return src, np.full(src.shape[0], src.shape[1], np.int64) if lengths is None else lengths

    def _tgt(self, tgt_in, tgt_out, tgt_lengths, batch):
        tgt_in = _checks.check_token_ids(tgt_in, self.tgt_vocab, "tgt_in").astype(np.int64)
        tgt_out = _checks.check_token_ids(tgt_out, self.tgt_vocab, "tgt_out").astype(np.int64)
        if tgt_in.shape != tgt_out.shape or tgt_in.shape[0] != batch:
            raise ValueError(f"tgt_in {tgt_in.shape} and tgt_out {tgt_out.shape}: expected the same shape "
                             f"(batch {batch}, time)")
        lengths = _checks.check_lengths(tgt_lengths, batch, tgt_in.shape[1], "tgt_lengths")
        return tgt_in, tgt_out, np.full(batch, tgt_in.shape[1], np.int64) if lengths is None else lengths

    def _batch(self, src, src_lengths, tgt_in, tgt_out, tgt_lengths):
        src, src_lengths = self._src(src, src_lengths)
        return (src, src_lengths) + self._tgt(tgt_in, tgt_out, tgt_lengths, src.shape[0])

    def prepare(self, sources, targets=None, pad_id=0):
        """Padded arrays from lists of token sequences (start and end tokens added to the targets).

        Parameters
        ----------
        sources : sequence of sequence of int
            Source token sequences, each non-empty.
        targets : sequence of sequence of int, optional
            Target token sequences without start or end token. Default None (sources only).
        pad_id : int, optional
            Id written at padded positions. Default 0.

        Returns
        -------
        src : numpy.ndarray
            (B, Ts) int64 padded sources.
        src_lengths : numpy.ndarray
            (B,) int64 source lengths.
        tgt_in : numpy.ndarray
            Only with ``targets``: (B, Tt) int64, ``start_id`` followed by the target.
        tgt_out : numpy.ndarray
            Only with ``targets``: (B, Tt) int64, the target followed by ``end_id``.
        tgt_lengths : numpy.ndarray
            Only with ``targets``: (B,) int64, each target's length + 1.

        Raises
        ------
        ValueError
            If ``sources`` or ``targets`` is empty or holds an empty sequence.
        """
        src, src_lengths = _pad([list(s) for s in sources], pad_id)
        if targets is None:
            return src, src_lengths
        tgt_in, _ = _pad([[self.start_id] + list(t) for t in targets], pad_id)
        tgt_out, tgt_lengths = _pad([list(t) + [self.end_id] for t in targets], pad_id)
        return src, src_lengths, tgt_in, tgt_out, tgt_lengths

    # -- training ------------------------------------------------------------------------------
    def loss_and_grads(self, src, src_lengths, tgt_in, tgt_out, tgt_lengths):
        """Teacher-forced mean cross-entropy over the valid target steps, and its gradients.

        Parameters
        ----------
        src : array_like
            Source token ids, (B, Ts) integers in [0, src_vocab).
        src_lengths : array_like or None
            Valid source steps per sequence, (B,) integers in [1, Ts]; None means all Ts.
        tgt_in : array_like
            Decoder inputs (start token, y_1 .. y_{n-1}), (B, Tt) integers in [0, tgt_vocab).
        tgt_out : array_like
            Decoder targets (y_1 .. y_n, y_n the end token), (B, Tt), same shape as ``tgt_in``.
        tgt_lengths : array_like or None
            Valid target steps per sequence, (B,) integers in [1, Tt]; None means all Tt.

        Returns
        -------
        loss : float
            Mean cross-entropy over the valid target steps.
        grads : dict of str to numpy.ndarray
            ``{name: gradient}``, keyed and shaped like ``params``.

        Raises
        ------
        TypeError
            If the token ids or lengths are not integers.
        ValueError
            If ids are out of the vocabulary, shapes disagree, or lengths are out of range.
        """
        return graph.loss_and_grads(self.params, self, *self._batch(src, src_lengths, tgt_in, tgt_out, tgt_lengths))

    def log_likelihood(self, src, src_lengths, tgt_in, tgt_out, tgt_lengths) -> np.ndarray:
        """log p(tgt_out | src) per sequence, summed over its valid target steps (teacher-forced).

        Parameters
        ----------
        src : array_like
            Source token ids, (B, Ts) integers in [0, src_vocab).
        src_lengths : array_like or None
            Valid source steps per sequence, (B,) integers in [1, Ts]; None means all Ts.
        tgt_in : array_like
            Decoder inputs (start token, y_1 .. y_{n-1}), (B, Tt) integers in [0, tgt_vocab).
        tgt_out : array_like
            Decoder targets (y_1 .. y_n, y_n the end token), (B, Tt), same shape as ``tgt_in``.
        tgt_lengths : array_like or None
            Valid target steps per sequence, (B,) integers in [1, Tt]; None means all Tt.

        Returns
        -------
        numpy.ndarray
            (B,) log-likelihoods, the parameters' dtype.

        Raises
        ------
        TypeError
            If the token ids or lengths are not integers.
        ValueError
            If ids are out of the vocabulary, shapes disagree, or lengths are out of range.
        """
        return graph.log_likelihood(self.params, self, *self._batch(src, src_lengths, tgt_in, tgt_out, tgt_lengths))

    def attention_weights(self, src, src_lengths, targets):
        """Attention weights of teacher-forcing each source's ``targets[b]``.

        ``targets[b]`` is a token sequence, e.g. a decoded output; the last row is the step that
        predicts the end token. Rows past a target's end and columns past a source's end are zero.

        Parameters
        ----------
        src : array_like
            Source token ids, (B, Ts) integers in [0, src_vocab).
        src_lengths : array_like or None
            Valid source steps per sequence, (B,); None means all Ts.
        targets : sequence of sequence of int
            One non-empty target token sequence per source (without start or end token).

        Returns
        -------
        numpy.ndarray
            (B, max len(target) + 1, Ts) attention weights.

        Raises
        ------
        ValueError
            If the model has no attention, ``targets`` does not hold one sequence per source, or ids or
            lengths are out of range.
        TypeError
            If the token ids or lengths are not integers.
        """
        if self.attention is None:
            raise ValueError("attention_weights: this model has no attention (attention=None)")
        src, src_lengths = self._src(src, src_lengths)
        tgt_in, tgt_lengths = _pad([[self.start_id] + list(t) for t in targets], 0)
        if len(targets) != src.shape[0]:
            raise ValueError(f"targets: expected one per source ({src.shape[0]}), got {len(targets)}")
        tgt_in = _checks.check_token_ids(tgt_in, self.tgt_vocab, "targets").astype(np.int64)
        a = graph.attention_weights(self.params, self, src, src_lengths, tgt_in, tgt_lengths)
        return np.where(graph.target_mask(tgt_lengths, tgt_in.shape[1])[:, :, None], a, 0)

    def fit(self, src, src_lengths, tgt_in, tgt_out, tgt_lengths, epochs=10, batch_size=32, lr=1e-3, clip=5.0,
            shuffle=True, bucket=False, seed=0, verbose=False):
        """Train with Adam on mini-batches, with gradient clipping by global norm.

        The optimiser (its moments) persists across calls, with ``lr`` as given. Each batch is trimmed to
        its longest source and target.

        Parameters
        ----------
        src : array_like
            Source token ids, (B, Ts) integers in [0, src_vocab).
        src_lengths : array_like or None
            Valid source steps per sequence, (B,) integers in [1, Ts]; None means all Ts.
        tgt_in : array_like
            Decoder inputs (start token, y_1 .. y_{n-1}), (B, Tt) integers in [0, tgt_vocab).
        tgt_out : array_like
            Decoder targets (y_1 .. y_n, y_n the end token), (B, Tt), same shape as ``tgt_in``.
        tgt_lengths : array_like or None
            Valid target steps per sequence, (B,) integers in [1, Tt]; None means all Tt.
        epochs : int, optional
            Passes over the data, >= 0. Default 10.
        batch_size : int, optional
            Pairs per update, >= 1. Default 32.
        lr : float, optional
            Adam's learning rate, > 0. Default 1e-3.
        clip : float or None, optional
            Maximum global gradient norm; None: no clipping. Default 5.0.
        shuffle : bool, optional
            Shuffle the pairs each epoch. Default True.
        bucket : bool, optional
            Batches of pairs of similar lengths (the shuffled pairs sorted by length within windows of 50
            batches, then the batches shuffled), which wastes far less work on padding than random
            batches (about 1.8x faster on CMUdict) but gives each update pairs of one length only: on
            small sets it can stall training (seen on 121 pairs). Default False.
        seed : int, optional
            Seed of the shuffling. Default 0.
        verbose : bool, optional
            Print each epoch's loss. Default False.

        Returns
        -------
        list of float
            The mean training loss of each epoch.

        Raises
        ------
        TypeError
            If the token ids, lengths or integer arguments have the wrong type.
        ValueError
            If ids or lengths are out of range, shapes disagree, or ``epochs``, ``batch_size`` or ``lr`` is
            out of range.
        """
        src, src_lengths, tgt_in, tgt_out, tgt_lengths = self._batch(src, src_lengths, tgt_in, tgt_out, tgt_lengths)
        batch_size = _checks.check_int(batch_size, "batch_size", minimum=1)
        if self.optimizer is None:
            self.optimizer = optim.Adam(lr=lr)
        self.optimizer.lr = _checks.check_float(lr, "lr", low=0, low_open=True)
        rng = np.random.default_rng(seed)
        B, history = src.shape[0], []
        for epoch in range(_checks.check_int(epochs, "epochs", minimum=0)):
            total = 0.0
            for i in _batches(src_lengths, tgt_lengths, batch_size, rng if shuffle else None, bucket):
                Ts, Tt = src_lengths[i].max(), tgt_lengths[i].max()   # trim the batch's padding
                loss, grads = graph.loss_and_grads(self.params, self, src[i, :Ts], src_lengths[i],
                                                   tgt_in[i, :Tt], tgt_out[i, :Tt], tgt_lengths[i])
                if clip is not None:
                    optim.clip_by_global_norm(grads, clip)
                self.optimizer.step(self.params, grads)
                total += loss * len(i)
            history.append(total / B)
            if verbose:
                print(f"epoch {epoch + 1}: loss {history[-1]:.4f}", flush=True)
        return history

    # -- decoding ------------------------------------------------------------------------------
    def greedy(self, src, src_lengths=None, max_len=50):
        """Greedy decoding: the most likely token at each step.

        Parameters
        ----------
        src : array_like
            Source token ids, (B, Ts) integers in [0, src_vocab).
        src_lengths : array_like, optional
            Valid source steps per sequence, (B,). Default None (all Ts).
        max_len : int, optional
            Most tokens generated per sequence, >= 1. Default 50.

        Returns
        -------
        list of numpy.ndarray
            One 1-D int64 token array per source (the end token left out).

        Raises
        ------
        TypeError
            If the ids, lengths or ``max_len`` are not integers.
        ValueError
            If ids, lengths or ``max_len`` are out of range.
        """
        src, src_lengths = self._src(src, src_lengths)
        return decode.greedy(self.params, self, src, src_lengths, _checks.check_int(max_len, "max_len", minimum=1))

    def beam_search(self, src, src_lengths=None, beam=5, max_len=50, alpha=0.0, return_scores=False):
        """Beam search with length normalisation ``log p / len ** alpha`` (``decode``'s docstring).

        Parameters
        ----------
        src : array_like
            Source token ids, (B, Ts) integers in [0, src_vocab).
        src_lengths : array_like, optional
            Valid source steps per sequence, (B,). Default None (all Ts).
        beam : int, optional
            Beam width, >= 1 (1 is greedy decoding). Default 5.
        max_len : int, optional
            Most tokens generated per sequence, >= 1. Default 50.
        alpha : float, optional
            Length-normalisation exponent, >= 0 (0: raw log-probability, 1: per-token average). Default 0.0.
        return_scores : bool, optional
            Also return the scores. Default False.

        Returns
        -------
        list of numpy.ndarray or list of tuple
            One 1-D int64 token array per source (end token left out); with ``return_scores`` one
            ``(tokens, normalised score, log p)`` tuple per source.

        Raises
        ------
        TypeError
            If the ids, lengths, ``beam``, ``max_len`` or ``alpha`` have the wrong type.
        ValueError
            If they are out of range.
        """
        src, src_lengths = self._src(src, src_lengths)
        res = decode.beam_search(self.params, self, src, src_lengths, _checks.check_int(beam, "beam", minimum=1),
                                 _checks.check_int(max_len, "max_len", minimum=1),
                                 _checks.check_float(alpha, "alpha", low=0))
        return res if return_scores else [r[0] for r in res]

    # -- saving --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor's arguments, JSON-serialisable (what ``save`` stores as ``__config__``).

        Returns
        -------
        dict
            Keyword arguments that rebuild an identically configured (freshly initialised) model.
        """
        return dict(src_vocab=self.src_vocab, tgt_vocab=self.tgt_vocab, embed_dim=self.embed_dim,
                    hidden=self.hidden, cell=self.cell.name, bidirectional_encoder=self.bidirectional,
                    attention=self.attention, merge=self.merge, start_id=self.start_id, end_id=self.end_id,
                    attn_size=self.attn_size, dtype=self.dtype.name, seed=self.seed, **self.cell_options)

    def save(self, path, metadata=None) -> None:
        """Write the model to ``path`` as one ``.npz`` file, atomically.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file.
        metadata : dict, optional
            JSON data stored with the model (e.g. the vocabularies); it becomes ``self.metadata``.
            Default None (``self.metadata``).

        Raises
        ------
        TypeError
            If ``metadata`` is not a dict or holds data JSON cannot encode.
        ValueError
            If ``metadata`` holds NaN or infinity.
        """
        metadata = self.metadata if metadata is None else metadata
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata: expected a dict of JSON data, got {type(metadata).__name__}")
        arrays = dict(self.params, __config__=np.array(json.dumps(self.get_config())),
                      __metadata__=np.array(json.dumps(metadata, allow_nan=False)))
        with atomic_write(path) as fh:
            np.savez(fh, **arrays)
        self.metadata = metadata

    @classmethod
    def load(cls, path) -> Seq2Seq:
        """Read a model saved by ``save`` (without pickle).

        Parameters
        ----------
        path : str or os.PathLike
            File written by :meth:`save`.

        Returns
        -------
        Seq2Seq
            The model, with its parameters and ``metadata``.

        Raises
        ------
        ValueError
            If the file is not a Seq2Seq model file, or its configuration or arrays are damaged; the
            message names the problem.
        FileNotFoundError
            If ``path`` does not exist.
        """
        try:
            f = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path}: not a Seq2Seq model file ({e})") from None
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: not a Seq2Seq model file (a single .npy array, not an .npz archive)")
        with f:
            if "__config__" not in f.files:
                raise ValueError(f"{path}: not a Seq2Seq model file (no __config__ entry; "
                                 "Seq2Seq.save writes one)")
            try:
                model = cls(**json.loads(str(f["__config__"])))
                metadata = json.loads(str(f["__metadata__"])) if "__metadata__" in f.files else {}
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}: a damaged Seq2Seq configuration ({e})") from None
            shapes = model.param_shapes()
            names = sorted(k for k in f.files if not k.startswith("__"))
            if names != sorted(shapes):
                raise ValueError(f"{path}: expected the arrays {sorted(shapes)}, got {names}")
            for k, shape in shapes.items():
                a = f[k]
                if a.shape != shape or a.dtype != model.dtype:
                    raise ValueError(f"{path}: {k} has shape {a.shape} dtype {a.dtype}, expected {shape} "
                                     f"{model.dtype}")
                model.params[k] = np.array(a)
        model.metadata = metadata if isinstance(metadata, dict) else {}
        return model


def _batches(src_lengths, tgt_lengths, batch_size, rng, bucket, window=50):
    """The index arrays of one epoch's batches (``rng`` None: in order, unshuffled)."""
    order = np.arange(len(src_lengths)) if rng is None else rng.permutation(len(src_lengths))
    if bucket:
        span = batch_size * window
        for start in range(0, len(order), span):
            part = order[start:start + span]
            key = src_lengths[part] * (tgt_lengths.max() + 1) + tgt_lengths[part]
            order[start:start + span] = part[np.argsort(key, kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if bucket and rng is not None:
        batches = [batches[k] for k in rng.permutation(len(batches))]
    return batches


def _pad(seqs, pad_id):
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if len(seqs) == 0 or lengths.min() < 1:
        raise ValueError("sequences: expected a non-empty list of non-empty sequences")
    out = np.full((len(seqs), lengths.max()), pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, lengths
