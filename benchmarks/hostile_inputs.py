#!/usr/bin/env python
"""Robustness survey: hostile model files, command-line mistakes, API misuse, temporary files left by
a killed save. Each case is measured from outside (exit code, exception type, traceback or not, time,
peak memory); the unit tests assert the same properties (tests/model/test_hostile_files.py,
tests/model/test_bad_input.py, tests/apps/test_cli_errors.py), this script gives the figures.

Run from the repository root with the project's interpreter:

    .venv/bin/python benchmarks/hostile_inputs.py [--json OUT] [--only REGEX] [--a4-count N]

Every case runs in its own subprocess (timeout, RLIMIT_AS = 2 GiB set in a preexec_fn), and records
the exit code, the exception type and the first line of its message, whether a Python traceback
appeared on stderr, the wall time and the child's peak RSS (``os.wait4`` rusage of that child only).
Each case builds its own small valid model (``Sequential([...]).save``) in its own scratch folder and
derives the hostile input from it, so the script measures "before" and "after" a fix alike.
Scratch files go under ``--work`` (default: a folder under the system's temporary directory); nothing
is written in the repository.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import wave
import zipfile

import numpy as np

PY = sys.executable
ROOT = os.getcwd()
MEM_LIMIT = 2 * 2 ** 30
DEFAULT_TIMEOUT = 20
TRAIN_TIMEOUT = 60
MARK = "@@RESULT@@"
WORK = os.path.join(tempfile.gettempdir(), "rnnkit-hostile-inputs")
TIME_BIN = "/usr/bin/time"


# =================================================================================================
# running a child
# =================================================================================================

def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


def run_proc(argv, timeout=DEFAULT_TIMEOUT, cwd=None, env=None):
    """Run ``argv``; returns a dict with rc, stdout, stderr, wall_s, peak_rss_mb, timed_out.

    The command runs as ``/usr/bin/time -f ... timeout -k 2 T argv`` with RLIMIT_AS set in a
    preexec_fn: GNU time reports the peak RSS of its own child only (a child forked straight from
    this script would inherit this script's RSS high-water mark, and RUSAGE_CHILDREN is a running
    maximum over all children), and coreutils ``timeout`` stops it after ``timeout`` seconds
    (exit 124). Without /usr/bin/time, falls back to ``os.wait4`` on a direct child."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    tfile = tempfile.NamedTemporaryFile(prefix="repro-time-", suffix=".txt", delete=False)
    tfile.close()
    use_time = os.access(TIME_BIN, os.X_OK) and shutil.which("timeout")
    full = ([TIME_BIN, "-f", "@@TIME@@ %M %x", "-o", tfile.name, "timeout", "-k", "2", str(timeout), *argv]
            if use_time else list(argv))
    t0 = time.perf_counter()
    p = subprocess.Popen(full, cwd=cwd or ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                         preexec_fn=_limit_memory, start_new_session=True)
    timed_out = False
    hard = timeout + (10 if use_time else 0)
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > hard:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    p.returncode = rc
    try:  # anything left in the child's process group
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    peak = ru.ru_maxrss / 1024.0
    if use_time:
        with open(tfile.name) as fh:
            report = fh.read()
        m = re.search(r"@@TIME@@ (\d+) (-?\d+)", report)
        sig = re.search(r"Command terminated by signal (\d+)", report)
        if m:
            peak = int(m.group(1)) / 1024.0
            rc = -int(sig.group(1)) if sig else int(m.group(2))
            if rc == 124:
                timed_out = True
        else:
            peak = None
    os.unlink(tfile.name)
    out.seek(0)
    err.seek(0)
    stdout = out.read().decode("utf-8", "replace")
    stderr = err.read().decode("utf-8", "replace")
    out.close()
    err.close()
    return {"rc": rc, "stdout": stdout, "stderr": stderr, "wall_s": wall,
            "peak_rss_mb": peak, "timed_out": timed_out}


PRELUDE = r'''
import json, sys, time, warnings
MARK = "@@RESULT@@"
def _emit(d):
    sys.stdout.write(MARK + json.dumps(d, default=repr) + "\n")
    sys.stdout.flush()
def _first_line(e):
    s = str(e)
    return s.splitlines()[0][:400] if s else ""
def _run(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            info = fn()
        except BaseException as e:
            dt = time.perf_counter() - t0
            _emit({"outcome": "exception", "exc_type": type(e).__qualname__, "exc_module": type(e).__module__,
                   "exc_msg": _first_line(e), "call_s": dt,
                   "warnings": [f"{x.category.__name__}: {str(x.message)[:200]}" for x in w]})
            raise
        dt = time.perf_counter() - t0
        _emit({"outcome": "ok", "info": info, "call_s": dt,
               "warnings": [f"{x.category.__name__}: {str(x.message)[:200]}" for x in w]})
'''


def run_py(code, case_dir, timeout=DEFAULT_TIMEOUT):
    """Run ``PRELUDE + code`` (which must call ``_run(fn)``) as a script in ``case_dir``."""
    script = os.path.join(case_dir, "case.py")
    with open(script, "w") as fh:
        fh.write(PRELUDE + "\n" + textwrap.dedent(code))
    return run_proc([PY, script], timeout=timeout)


def summarise(res):
    """Outcome fields from a finished child: outcome, exc_type, exc_msg, traceback, call_s, info."""
    stderr, stdout = res["stderr"], res["stdout"]
    row = {"rc": res["rc"], "wall_s": round(res["wall_s"], 3),
           "peak_rss_mb": None if res["peak_rss_mb"] is None else round(res["peak_rss_mb"], 1),
           "timed_out": res["timed_out"], "traceback": "Traceback (most recent call last)" in stderr,
           "stderr_tail": stderr[-1500:], "stdout_tail": stdout[-800:]}
    marked = [l for l in stdout.splitlines() if l.startswith(MARK)]
    if marked:
        d = json.loads(marked[-1][len(MARK):])
        row.update(outcome="OK" if d["outcome"] == "ok" else d["exc_type"], exc_type=d.get("exc_type"),
                   exc_module=d.get("exc_module"), exc_msg=d.get("exc_msg"), call_s=round(d["call_s"], 4),
                   info=d.get("info"), warnings=d.get("warnings"))
    else:
        row.update(exc_type=None, exc_msg=None, call_s=None, info=None, warnings=None)
        if res["timed_out"]:
            row["outcome"] = "TIMEOUT"
        elif res["rc"] < 0:
            row["outcome"] = f"SIGNAL {signal.Signals(-res['rc']).name}"
        else:
            row["outcome"] = f"exit {res['rc']}"
        exc = _exception_from_stderr(stderr) if row["traceback"] else None
        if exc:
            row["exc_type"], row["exc_msg"] = exc
            row["outcome"] = exc[0]
        elif stderr.strip() and not res["timed_out"]:
            row["exc_msg"] = stderr.strip().splitlines()[-1][:400]
    return row


def _exception_from_stderr(stderr):
    """(type, message first line) of the last traceback on stderr."""
    lines = stderr.rstrip().splitlines()
    starts = [i for i, l in enumerate(lines) if l.startswith("Traceback (most recent call last)")]
    if not starts:
        return None
    for l in lines[starts[-1] + 1:]:
        if l and not l.startswith((" ", "\t", "Traceback")):
            m = re.match(r"^([\w.]+)(?::\s?(.*))?$", l)
            if m:
                return m.group(1).rsplit(".", 1)[-1], (m.group(2) or "")[:400]
    return None


# =================================================================================================
# fixtures
# =================================================================================================

def make_model(path, kind="gru"):
    """A small valid model file; ``kind``: gru (3 -> 2, crossentropy), ctc (speech-digits shape,
    with the app's metadata), charlm (Embedding LM with a vocabulary), big (LSTM(512) x 3)."""
    from rnnkit.layers import GRU, LSTM, Dense
    from rnnkit.model import Sequential
    if kind == "gru":
        m = Sequential([GRU(8), Dense(2)])
        m.compile("crossentropy")
        m.build(3)
        m.save(path)
    elif kind == "ctc":
        from rnnkit.apps import speech_digits as sd
        from rnnkit.data import speech_features as sf
        config = sd.default_config(quick=True)
        config["hidden"] = 8
        dim = sf.featurize(np.sin(np.arange(8000) / 10).astype(np.float32), sample_rate=16000,
                           **config["features"]).shape[1]
        m = sd.build(config)
        m.compile("ctc", ctc_blank=sd.BLANK)
        m.build(dim)
        m.save(path, metadata=sd._metadata(config))
    elif kind == "charlm":
        from rnnkit.apps import charlm
        config = charlm.default_config(quick=True)
        config["hidden"], config["embed_dim"] = 8, 4
        chars = list("\n abcdefghijklmnopqrstuvwxyz.,")
        m = charlm.build(config, len(chars))
        m.compile("crossentropy")
        m.build(len(chars))
        m.save(path, metadata={"vocab": chars, "start": "\n"})
    elif kind == "big":
        m = Sequential([LSTM(512, num_layers=3), Dense(2)])
        m.build(64)
        m.save(path)
    else:
        raise ValueError(kind)
    return path


def write_wav(path, samples, rate=16000):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


# -- ZIP surgery ----------------------------------------------------------------------------------

def zip_records(data):
    """[(name, cd_offset, local_offset)] of a ZIP's central directory (no ZIP64 needed here)."""
    eocd = data.rfind(b"PK\x05\x06")
    if eocd < 0:
        raise ValueError("no end-of-central-directory record")
    n_total, cd_size, cd_off = struct.unpack_from("<HII", data, eocd + 10)
    out, pos = [], cd_off
    for _ in range(n_total):
        if data[pos:pos + 4] != b"PK\x01\x02":
            raise ValueError("bad central directory")
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        local = struct.unpack_from("<I", data, pos + 42)[0]
        name = data[pos + 46:pos + 46 + n].decode("utf-8", "replace")
        out.append((name, pos, local))
        pos += 46 + n + m + k
    return out


def patch_u16(data, offset, value=None, or_mask=None):
    data = bytearray(data)
    old = struct.unpack_from("<H", data, offset)[0]
    struct.pack_into("<H", data, offset, value if value is not None else old | or_mask)
    return bytes(data)


# CD record: version needed at +6, flags at +8, method at +10; local header: version +4, flags +6, method +8
def patch_entries(data, which, where, field, value=None, or_mask=None):
    """Patch ``field`` ("version", "flags", "method") of the entries ``which`` (a name, "all", or
    "first-weight") in the central directory ("cd"), the local headers ("local") or "both"."""
    recs = zip_records(data)
    if which == "all":
        sel = recs
    elif which == "first-weight":
        sel = [r for r in recs if not r[0].startswith("header")][:1]
    else:
        sel = [r for r in recs if r[0] == which]
    cd_off = {"version": 6, "flags": 8, "method": 10}[field]
    lh_off = {"version": 4, "flags": 6, "method": 8}[field]
    for _, cd, local in sel:
        if where in ("cd", "both"):
            data = patch_u16(data, cd + cd_off, value, or_mask)
        if where in ("local", "both"):
            data = patch_u16(data, local + lh_off, value, or_mask)
    return data


def read_entries(path):
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def header_of(entries):
    raw = dict(entries)["header.npy"]
    arr = np.load(io.BytesIO(raw), allow_pickle=False)
    return json.loads(arr.tobytes().decode("utf-8"))


def npy_bytes_of_text(text):
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(text.encode("utf-8"), dtype=np.uint8), allow_pickle=False)
    return buf.getvalue()


def write_archive(path, entries, header_text=None):
    """Rewrite the archive with ``header.npy`` replaced by ``header_text`` (stored, like savez)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, data in entries:
            if name == "header.npy" and header_text is not None:
                data = npy_bytes_of_text(header_text)
            zf.writestr(name, data)


def write_archive_padded_header(path, entries, header_text, total_bytes):
    """``header.npy`` = header_text + spaces up to ``total_bytes``, written deflated, streamed."""
    body = header_text.encode("utf-8")
    pad = total_bytes - len(body)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, data in entries:
            if name != "header.npy":
                zf.writestr(name, data)
                continue
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array_header_1_0(
                    fh, {"descr": "|u1", "fortran_order": False, "shape": (total_bytes,)})
                fh.write(body)
                chunk = b" " * 2 ** 20
                while pad > 0:
                    fh.write(chunk[:min(pad, len(chunk))])
                    pad -= len(chunk)


# =================================================================================================
# A: hostile / damaged model files
# =================================================================================================

LOAD_CODE = '''
from rnnkit.model import Sequential
PATH = {path!r}
def case():
    m = Sequential.load(PATH)
    return {{"loaded": True, "layers": [repr(l)[:80] for l in m.layers], "input_size": m.input_size,
             "num_params": int(m.num_params()),
             "optimizer": (type(m.optimizer).__name__, m.optimizer.get_config()) if m.loss else None}}
_run(case)
'''


def a_cases():
    cases = []

    def add(cid, desc, derive, timeout=DEFAULT_TIMEOUT):
        cases.append((cid, desc, derive, timeout))

    add("A0", "control: the valid base model (GRU(8), Dense(2))", lambda base, out: shutil.copy(base, out))

    # -- A1: "version needed to extract" = 239 in the central directory ---------------------------
    def patched(which, where, field, **change):
        """A case deriving its file from the base model with one ZIP field patched."""
        def derive(base, out):
            with open(base, "rb") as fh:
                data = fh.read()
            with open(out, "wb") as fh:
                fh.write(patch_entries(data, which, where, field, **change))
        return derive

    def version(which, where="cd", value=239):
        return patched(which, where, "version", value=value)

    with tempfile.TemporaryDirectory() as d:  # entry names of the base model, for one case per entry
        names = [n for n, _, _ in zip_records(open(make_model(os.path.join(d, "m.npz")), "rb").read())]
    for i, name in enumerate(names):
        add(f"A1.{i + 1}", f"CD 'version needed' = 239 (23.9) on entry {name}", version(name))
    add(f"A1.{len(names) + 1}", "CD 'version needed' = 239 on all entries", version("all"))
    add(f"A1.{len(names) + 2}", "local-header 'version needed' = 239 on all entries", version("all", "local"))

    # -- A2: general-purpose flags ----------------------------------------------------------------
    def flags(which, where, mask):
        return patched(which, where, "flags", or_mask=mask)

    n = 0
    for which in ("header.npy", "first-weight"):
        for where in ("cd", "local", "both"):
            n += 1
            add(f"A2.{n}", f"'encrypted' flag bit 0 set in {where} on {which}", flags(which, where, 0x1))
    n += 1
    add(f"A2.{n}", "'encrypted' flag bit 0 set in cd+local on all entries", flags("all", "both", 0x1))
    n += 1
    add(f"A2.{n}", "(extra) 'compressed patched data' flag bit 5 in CD on all entries", flags("all", "cd", 0x20))
    n += 1
    add(f"A2.{n}", "(extra) 'strong encryption' flag bit 6 in CD on all entries", flags("all", "cd", 0x40))

    def method(value):
        return patched("all", "both", "method", value=value)

    n += 1
    add(f"A2.{n}", "(extra) compression method 99 (AES) in CD+local on all entries", method(99))

    # -- A3: header JSON rewritten ----------------------------------------------------------------
    def header_edit(edit):
        def derive(base, out):
            entries = read_entries(base)
            h = header_of(entries)
            edit(h)
            write_archive(out, entries, json.dumps(h))
        return derive

    def rec_cfg(h):
        return next(l["config"] for l in h["layers"] if "hidden_size" in l["config"])

    def set_in(getter, key, value):
        return lambda h: getter(h).__setitem__(key, value)

    add("A3.1", "header: GRU hidden_size 5000 (stored weights unchanged)",
        header_edit(set_in(rec_cfg, "hidden_size", 5000)))
    add("A3.2", "header: GRU num_layers 200000", header_edit(set_in(rec_cfg, "num_layers", 200000)))
    add("A3.3", "header: GRU num_layers 10**12", header_edit(set_in(rec_cfg, "num_layers", 10 ** 12)))
    add("A3.4", "header: input_size 10**9", header_edit(lambda h: h.__setitem__("input_size", 10 ** 9)))

    def padded(total):
        def derive(base, out):
            entries = read_entries(base)
            write_archive_padded_header(out, entries, json.dumps(header_of(entries)), total)
        return derive

    add("A3.5", "header: 200 MB of JSON (space-padded), stored deflated", padded(200 * 2 ** 20))
    add("A3.6", "(extra) header: 300 MB (> MAX_HEADER_BYTES 256 MB), deflated", padded(300 * 2 ** 20))
    add("A3.7", "header: Adam beta1 = [1]",
        header_edit(lambda h: h["compile"]["optimizer"]["config"].__setitem__("beta1", [1])))
    add("A3.8", "header: Dense units \"1\" (a string)",
        header_edit(lambda h: next(l for l in h["layers"] if l["class"] == "Dense")["config"]
                    .__setitem__("units", "1")))

    def bad_shapes(h):
        for w in h["weights"]:
            w["shape"] = [s + 7 for s in w["shape"]] + [3]
    add("A3.9", "header: 'weights' list shapes disagree with the stored arrays", header_edit(bad_shapes))

    def bad_dtypes(h):
        for w in h["weights"]:
            w["dtype"] = "<i8"
    add("A3.10", "(extra) header: 'weights' list dtypes say int64", header_edit(bad_dtypes))
    add("A3.11", "(extra) header: GRU hidden_size 8.7 (a float)", header_edit(set_in(rec_cfg, "hidden_size", 8.7)))
    add("A3.12", "(extra) header: GRU num_layers true (a bool)", header_edit(set_in(rec_cfg, "num_layers", True)))
    add("A3.13", "(extra) header: Adam lr -1", header_edit(
        lambda h: h["compile"]["optimizer"]["config"].__setitem__("lr", -1)))

    # a deeply nested metadata value, built as text (json.dumps would recurse)
    def deep_derive(base, out):
        entries = read_entries(base)
        text = json.dumps(header_of(entries))
        text = text.replace('"metadata": null', '"metadata": {"x": ' + "[" * 100000 + "]" * 100000 + "}")
        write_archive(out, entries, text)
    add("A3.14", "(extra) header: metadata nested 100000 lists deep", deep_derive)
    return cases


def case_dirs(cases, work, only):
    """(id, description, builder, timeout, scratch folder) of the cases selected by ``only``."""
    for cid, desc, build, timeout in cases:
        if only and not re.search(only, cid):
            continue
        d = os.path.join(work, cid)
        os.makedirs(d, exist_ok=True)
        yield cid, desc, build, timeout, d


def run_a(work, a4_count, only):
    rows = []
    for cid, desc, derive, timeout, d in case_dirs(a_cases(), work, only):
        base = make_model(os.path.join(d, "base.npz"))
        bad = os.path.join(d, "model.npz")
        t0 = time.perf_counter()
        derive(base, bad)
        prep = time.perf_counter() - t0
        res = run_py(LOAD_CODE.format(path=bad), d, timeout)
        row = {"id": cid, "group": "A", "desc": desc, **summarise(res), "file_bytes": os.path.getsize(bad),
               "prep_s": round(prep, 2)}
        rows.append(row)
        print_row(row)
        if os.path.getsize(bad) > 10 * 2 ** 20:
            os.remove(bad)
    if not only or re.search(only, "A4"):
        rows.append(run_a4(work, a4_count))
        print_row(rows[-1])
    return rows


A4_CODE = '''
import os, random, resource, signal, time
from rnnkit.model import Sequential
try:
    from rnnkit.io import ModelFileError
except ImportError:
    from rnnkit._archive import ModelFileError
BASE, OUT, N = {base!r}, {out!r}, {n}
class _Timeout(BaseException):
    pass
def _alarm(*a):
    raise _Timeout()
signal.signal(signal.SIGALRM, _alarm)
def case():
    with open(BASE, "rb") as fh:
        data = fh.read()
    rng = random.Random(0)
    counts, examples, times = {{}}, {{}}, []
    worst = (0.0, None)
    rss = []
    for i in range(N):
        buf = bytearray(data)
        k = rng.randint(1, 8)
        pos = [rng.randrange(len(buf)) for _ in range(k)]
        for p in pos:
            buf[p] ^= rng.randint(1, 255)
        with open(OUT, "wb") as fh:
            fh.write(buf)
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        try:
            Sequential.load(OUT)
            kind = "loaded OK"
        except _Timeout:
            kind = "TIMEOUT(5s)"
        except ModelFileError as e:
            kind = "ModelFileError"
        except BaseException as e:
            kind = type(e).__qualname__
            examples.setdefault(kind, []).append((i, sorted(pos), str(e).splitlines()[0][:160] if str(e) else ""))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        dt = time.perf_counter() - t0
        if kind == "loaded OK":
            examples.setdefault(kind, []).append((i, sorted(pos), ""))
        times.append(dt)
        if dt > worst[0]:
            worst = (dt, i)
        counts[kind] = counts.get(kind, 0) + 1
        rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {{"n": N, "counts": counts, "max_s": max(times), "mean_s": sum(times) / N, "worst_index": worst[1],
             "peak_rss_mb": max(rss) / 1024, "rss_before_first_mb": rss[0] / 1024,
             "examples": {{k: v[:5] for k, v in examples.items()}}}}
_run(case)
'''


def run_a4(work, n):
    d = os.path.join(work, "A4")
    os.makedirs(d, exist_ok=True)
    base = make_model(os.path.join(d, "base.npz"))
    res = run_py(A4_CODE.format(base=base, out=os.path.join(d, "corrupt.npz"), n=n), d, timeout=max(120, n // 2))
    row = {"id": "A4", "group": "A", "desc": f"{n} random corruptions (1-8 bytes XORed, random.Random(0))",
           **summarise(res)}
    info = row.get("info") or {}
    if info:
        row["outcome"] = ", ".join(f"{k}={v}" for k, v in sorted(info["counts"].items(), key=lambda kv: -kv[1]))
        row["exc_msg"] = f"max load {info['max_s'] * 1000:.1f} ms (file #{info['worst_index']}), " \
                         f"mean {info['mean_s'] * 1000:.2f} ms"
    return row


# =================================================================================================
# B: CLI bad calls
# =================================================================================================

def cli(*args):
    return [PY, "-m", "rnnkit.cli", *args]


def b_cases():
    """(id, description, build(d) -> argv, timeout)."""
    C = []

    def add(desc, build, timeout=DEFAULT_TIMEOUT):
        C.append((f"B{len(C) + 1}", desc, build, timeout))

    def gru(d):
        return make_model(os.path.join(d, "model.npz"))

    def npy(d, arr, name="x.npy", pickle=False):
        p = os.path.join(d, name)
        np.save(p, arr, allow_pickle=pickle)
        return p

    X = lambda *s: np.random.default_rng(0).standard_normal(s).astype(np.float32)

    # predict
    add("predict: control, valid model and (4,5,3) inputs", lambda d: cli("predict", gru(d), npy(d, X(4, 5, 3))))
    add("predict: missing model file", lambda d: cli("predict", os.path.join(d, "nope.npz"), npy(d, X(4, 5, 3))))
    add("predict: missing input file", lambda d: cli("predict", gru(d), os.path.join(d, "nope.npy")))
    add("predict: a directory as model", lambda d: cli("predict", d, npy(d, X(4, 5, 3))))
    add("predict: an .npy file as model", lambda d: cli("predict", npy(d, X(4, 5, 3), "m.npy"), npy(d, X(4, 5, 3))))
    add("predict: a directory as inputs", lambda d: cli("predict", gru(d), d))

    def nan_inputs(d):
        a = X(4, 5, 3)
        a[1, 2, 0] = np.nan
        return cli("predict", gru(d), npy(d, a))
    add("predict: inputs contain NaN", nan_inputs)
    add("predict: 1-D inputs (5,)", lambda d: cli("predict", gru(d), npy(d, X(5))))
    add("predict: 4-D inputs (2,4,5,3)", lambda d: cli("predict", gru(d), npy(d, X(2, 4, 5, 3))))
    add("predict: wrong feature count (4,5,7) for a 3-feature model",
        lambda d: cli("predict", gru(d), npy(d, X(4, 5, 7))))
    add("predict: 2-D inputs (4,3) on a recurrent model", lambda d: cli("predict", gru(d), npy(d, X(4, 3))))
    add("predict: empty array (0,5,3)", lambda d: cli("predict", gru(d), npy(d, X(0, 5, 3))))
    add("predict: 0-d scalar array", lambda d: cli("predict", gru(d), npy(d, np.float32(1.0))))

    def pickled(d):
        a = np.empty(2, dtype=object)
        a[0], a[1] = X(5, 3), X(2, 3)
        return cli("predict", gru(d), npy(d, a, pickle=True))
    add("predict: pickled object array (.npy, allow_pickle)", pickled)

    def npz_inputs(d):
        p = os.path.join(d, "x.npz")
        np.savez(p, x=X(4, 5, 3))
        return cli("predict", gru(d), p)
    add("predict: an .npz archive as inputs", npz_inputs)

    def text_inputs(d):
        p = os.path.join(d, "x.npy")
        open(p, "w").write("1 2 3\n4 5 6\n")
        return cli("predict", gru(d), p)
    add("predict: a text file named .npy as inputs", text_inputs)
    add("predict: string array inputs", lambda d: cli("predict", gru(d), npy(d, np.array([["a", "b"]]))))
    add("predict: --output into a missing folder",
        lambda d: cli("predict", gru(d), npy(d, X(4, 5, 3)), "--output", os.path.join(d, "missing", "out.npy")))

    # transcribe
    def ctc(d):
        return make_model(os.path.join(d, "ctc.npz"), "ctc")

    def sine_wav(d, name="a.wav"):
        p = os.path.join(d, name)
        write_wav(p, (8000 * np.sin(np.arange(16000) * 0.05)).astype(np.int16))
        return p

    add("transcribe: control, untrained CTC model, 1 s sine .wav", lambda d: cli("transcribe", ctc(d), sine_wav(d)))

    def nonaudio(d):
        p = os.path.join(d, "notaudio.wav")
        open(p, "w").write("this is not audio\n" * 20)
        return cli("transcribe", ctc(d), p)
    add("transcribe: a non-audio (text) file named .wav", nonaudio)

    def empty_wav(d):
        p = os.path.join(d, "empty.wav")
        open(p, "wb").close()
        return cli("transcribe", ctc(d), p)
    add("transcribe: an empty (0-byte) .wav", empty_wav)

    def header_only(d):
        p = os.path.join(d, "nosamples.wav")
        write_wav(p, np.zeros(0, np.int16))
        return cli("transcribe", ctc(d), p)
    add("transcribe: a .wav with a header and 0 samples", header_only)

    def short_wav(d):
        p = os.path.join(d, "short.wav")
        write_wav(p, np.full(10, 1000, np.int16))
        return cli("transcribe", ctc(d), p)
    add("transcribe: a .wav of 10 samples (shorter than a frame)", short_wav)

    def raw(d):
        p = os.path.join(d, "audio.raw")
        open(p, "wb").write((8000 * np.sin(np.arange(16000) * 0.05)).astype("<i2").tobytes())
        return cli("transcribe", ctc(d), p)
    add("transcribe: a headerless .raw file", raw)
    add("transcribe: a missing audio file", lambda d: cli("transcribe", ctc(d), os.path.join(d, "nope.wav")))
    add("transcribe: a non-CTC model (GRU classifier) on a valid .wav",
        lambda d: cli("transcribe", gru(d), sine_wav(d)))

    # generate
    def lm(d):
        return make_model(os.path.join(d, "lm.npz"), "charlm")
    add("generate: control, charlm model --length 10", lambda d: cli("generate", lm(d), "--length", "10"))
    add("generate: --length -5", lambda d: cli("generate", lm(d), "--length", "-5"))
    add("generate: --temperature nan", lambda d: cli("generate", lm(d), "--length", "5", "--temperature", "nan"))
    add("generate: prompt with characters outside the vocabulary",
        lambda d: cli("generate", lm(d), "--length", "5", "--prompt", "QZ!"))
    add("generate: a non-text model (GRU classifier)", lambda d: cli("generate", gru(d), "--length", "5"))
    add("generate: a CTC speech model", lambda d: cli("generate", ctc(d), "--length", "5"))

    # evaluate
    def run_dir(d, config=None, raw_text=None, model=False):
        r = os.path.join(d, "run")
        os.makedirs(r, exist_ok=True)
        if raw_text is not None:
            open(os.path.join(r, "config.json"), "w").write(raw_text)
        elif config is not None:
            json.dump(config, open(os.path.join(r, "config.json"), "w"))
        if model:
            make_model(os.path.join(r, "model.npz"))
        return r
    add("evaluate: a folder without config.json", lambda d: cli("evaluate", run_dir(d, model=True)))
    add("evaluate: bad JSON in config.json", lambda d: cli("evaluate", run_dir(d, raw_text="{not json", model=True)))
    add("evaluate: a missing folder", lambda d: cli("evaluate", os.path.join(d, "nope")))
    add("evaluate: config.json is a JSON list", lambda d: cli("evaluate", run_dir(d, raw_text="[1, 2]", model=True)))
    add("evaluate: config.json without 'app'", lambda d: cli("evaluate", run_dir(d, {"cell": "gru"}, model=True)))
    add("evaluate: config.json names an unknown app",
        lambda d: cli("evaluate", run_dir(d, {"app": "nosuchapp"}, model=True)))
    add("evaluate: sunspots config, no model.npz", lambda d: cli("evaluate", run_dir(d, {"app": "sunspots"})))

    # train
    def train(*extra, quick=True, epochs=True):
        def build(d):
            args = ["train", "sunspots"] + (["--quick"] if quick else []) + (["--epochs", "1"] if epochs else [])
            if "--out" not in extra:
                args += ["--out", os.path.join(d, "run")]
            return cli(*args, *extra)
        return build
    add("train: control, sunspots --quick --epochs 1", train(), TRAIN_TIMEOUT)
    add("train: --hidden 0", train("--hidden", "0"), TRAIN_TIMEOUT)
    add("train: --hidden -5", train("--hidden", "-5"), TRAIN_TIMEOUT)
    add("train: --epochs -1", train("--epochs", "-1", epochs=False), TRAIN_TIMEOUT)
    add("train: --epochs 0", train("--epochs", "0", epochs=False), TRAIN_TIMEOUT)
    add("train: --lr -1", train("--lr", "-1"), TRAIN_TIMEOUT)
    add("train: --lr nan", train("--lr", "nan"), TRAIN_TIMEOUT)
    add("train: --lr inf", train("--lr", "inf"), TRAIN_TIMEOUT)
    add("train: --batch-size 0", train("--batch-size", "0"), TRAIN_TIMEOUT)
    add("train: --batch-size -3", train("--batch-size", "-3"), TRAIN_TIMEOUT)
    add("train: --threads 0 (global option)", lambda d: [*cli("--threads", "0"), *train()(d)[3:]], TRAIN_TIMEOUT)
    add("train: --threads -1 (global option)", lambda d: [*cli("--threads", "-1"), *train()(d)[3:]], TRAIN_TIMEOUT)
    add("train: --layers 0", train("--layers", "0"), TRAIN_TIMEOUT)

    def out_file(d):
        p = os.path.join(d, "existing_file")
        open(p, "w").write("I am a file\n")
        return train("--out", p)(d)
    add("train: --out is an existing FILE", out_file, TRAIN_TIMEOUT)
    add("train: unknown app", lambda d: cli("train", "nosuchapp", "--out", os.path.join(d, "run")))
    add("train: unknown option --bogus", train("--bogus"))
    add("train: --cell bogus (argparse choices)", train("--cell", "bogus"))
    add("train: --set malformed (no '=')", train("--set", "hidden"), TRAIN_TIMEOUT)
    add("train: --set unknown key", train("--set", "nosuchkey=1"), TRAIN_TIMEOUT)
    add("train: --set window=abc (a string for a number)", train("--set", "window=abc"), TRAIN_TIMEOUT)
    add("train: --set window=0", train("--set", "window=0"), TRAIN_TIMEOUT)
    add("train: --verbose -1", train("--verbose", "-1"), TRAIN_TIMEOUT)

    # misc
    add("rnnkit --version", lambda d: cli("--version"))
    add("rnnkit (no arguments)", lambda d: cli())
    add("python -m rnnkit (package main)", lambda d: [PY, "-m", "rnnkit"])
    add("rnnkit unknown subcommand", lambda d: cli("frobnicate"))
    add("demo --apps nosuchapp", lambda d: cli("demo", "--apps", "nosuchapp"))
    return C


def run_b(work, only):
    rows = []
    for cid, desc, build, timeout, d in case_dirs(b_cases(), work, only):
        argv = build(d)
        res = run_proc(argv, timeout=timeout, cwd=ROOT)
        row = {"id": cid, "group": "B", "desc": desc, "argv": " ".join(["rnnkit" if a == "rnnkit.cli" else a
                                                                       for a in argv[2:]]), **summarise(res)}
        if not row["traceback"]:  # no traceback: the outcome is the exit code
            row["outcome"] = "TIMEOUT" if res["timed_out"] else f"exit {res['rc']}"
            if res["rc"] == 0:
                last = res["stdout"].strip().splitlines()
                row["exc_msg"] = f"stdout: {last[-1][:200]}" if last else "(no output)"
        rows.append(row)
        print_row(row)
    return rows


# =================================================================================================
# C: API misuse
# =================================================================================================

C_PRELUDE = '''
import numpy as np
from rnnkit.model import Sequential
from rnnkit.layers import GRU, LSTM, Dense
def clf():
    m = Sequential([GRU(8), Dense(2)], seed=0)
    m.compile("crossentropy")
    return m
X = np.random.default_rng(0).standard_normal((6, 5, 3)).astype(np.float32)
y = np.array([0, 1, 0, 1, 0, 1])
def hist(h):
    return {k: [round(float(x), 5) for x in v] for k, v in h.history.items()} if hasattr(h, "history") else repr(h)
'''


def c_cases():
    C = []

    def add(desc, body):
        C.append((f"C{len(C) + 1}", desc, body))

    add('fit("hello", y)', 'def case():\n    return hist(clf().fit("hello", y, verbose=0))')
    add("fit(None, y)", "def case():\n    return hist(clf().fit(None, y, verbose=0))")
    add('predict("abc")', 'def case():\n    m = clf(); m.build(3)\n    return repr(m.predict("abc"))[:200]')
    add('predict("abc") on an unbuilt model', 'def case():\n    return repr(clf().predict("abc"))[:200]')
    add('fit(["ab", "cd"], y)', 'def case():\n    return hist(clf().fit(["ab", "cd"], y[:2], verbose=0))')
    add("fit([np.ones(5), np.ones(3)], y) (list of 1-D series)",
        "def case():\n    return hist(clf().fit([np.ones(5), np.ones(3)], y[:2], verbose=0))")
    add("predict(X, batch_size=0)", "def case():\n    return repr(clf().predict(X, batch_size=0))[:200]")
    add("predict(X, batch_size=-1)", "def case():\n    return repr(clf().predict(X, batch_size=-1))[:200]")
    add("predict(X, batch_size=2.5)", "def case():\n    return repr(clf().predict(X, batch_size=2.5).shape)")
    add("fit(X, y, batch_size=2.5)", "def case():\n    return hist(clf().fit(X, y, batch_size=2.5, verbose=0))")
    add("fit(X, y, batch_size=0)", "def case():\n    return hist(clf().fit(X, y, batch_size=0, verbose=0))")
    add('fit(X, y, epochs="ten")', 'def case():\n    return hist(clf().fit(X, y, epochs="ten", verbose=0))')
    add("fit(X, y, epochs=2.7)", "def case():\n    return hist(clf().fit(X, y, epochs=2.7, verbose=0))")
    add("fit(X[:2], np.array([0., 1.])) float class ids, crossentropy",
        "def case():\n    return hist(clf().fit(X[:2], np.array([0., 1.]), verbose=0))")
    add("fit(X, float ids 0./1.) 6 samples, crossentropy",
        "def case():\n    return hist(clf().fit(X, y.astype(float), verbose=0))")
    add("failed fit with 2-D X (6,5) on GRU, then fit with X[..., None] (6,5,1)", '''
def case():
    m = clf()
    X2 = X[:, :, 0]
    first = None
    try:
        m.fit(X2, y, verbose=0)
    except Exception as e:
        first = f"{type(e).__name__}: {str(e).splitlines()[0][:150]}"
    out = {"first_call": first, "input_size_after_failure": m.input_size}
    try:
        out["second_call"] = hist(m.fit(X2[..., None], y, verbose=0))
    except Exception as e:
        out["second_call"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return out
''')
    add("failed predict with wrong features (6,5,4), then predict with (6,5,3)", '''
def case():
    m = clf()
    first = None
    try:
        m.predict(np.zeros((6, 5, 4), np.float32))
    except Exception as e:
        first = f"{type(e).__name__}: {str(e).splitlines()[0][:150]}"
    out = {"first_call": first, "input_size_after_failure": m.input_size}
    try:
        out["second_call"] = repr(m.predict(X).shape)
    except Exception as e:
        out["second_call"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return out
''')
    add("GRU float32 layer.step(x float64)", '''
def case():
    m = clf(); m.build(3)
    layer = m.layers[0]
    out, state = layer.step(np.ones((2, 3), np.float64))
    out2, state2 = layer.step(np.ones((2, 3), np.float64), state)
    return {"param_dtype": str(layer.params["W_x_l0"].dtype), "out_dtype": str(out.dtype),
            "state_dtype": str(state.dtype), "second_step_out_dtype": str(out2.dtype)}
''')
    add("LSTM float32 layer.step(x float64)", '''
def case():
    m = Sequential([LSTM(8), Dense(2)]); m.build(3)
    layer = m.layers[0]
    out, state = layer.step(np.ones((2, 3), np.float64))
    return {"param_dtype": str(layer.params["W_x_l0"].dtype), "out_dtype": str(out.dtype),
            "state_dtypes": [str(s.dtype) for s in state]}
''')
    ctc = '''
def case():
    m = Sequential([GRU(8, return_sequences=True), Dense(5)], seed=0)
    m.compile("ctc")
    Xc = np.random.default_rng(0).standard_normal((4, 3, 2)).astype(np.float32)
    ys = {ys}
    h = m.fit(Xc, ys, epochs=2, batch_size=4, verbose=0)
    ev = m.evaluate(Xc, ys)
    return {{"fit_loss": hist(h)["loss"], "evaluate": {{k: float(v) for k, v in ev.items()}}}}
'''
    add("CTC fit, every target (len 6) longer than the input (T=3)",
        ctc.format(ys="[[1, 2, 3, 4, 1, 2]] * 4"))
    add("CTC fit, 2 of 4 targets longer than the input (T=3)",
        ctc.format(ys="[[1, 2, 3, 4, 1, 2], [1, 2], [3, 4, 1, 2, 3], [4]]"))
    add("CTC fit, target with repeated labels needing T>=2L-1 ([1,1,1] on T=3)",
        ctc.format(ys="[[1, 1, 1], [1], [2], [3]]"))
    return C


def run_c(work, only):
    rows = []
    for cid, desc, body in c_cases():
        if only and not re.search(only, cid):
            continue
        d = os.path.join(work, cid)
        os.makedirs(d, exist_ok=True)
        code = C_PRELUDE + textwrap.dedent(body) + "\n_run(case)\n"
        res = run_py(code, d)
        row = {"id": cid, "group": "C", "desc": desc, **summarise(res)}
        if row["outcome"] == "OK":
            row["exc_msg"] = json.dumps(row["info"], default=repr)[:300]
        if row.get("warnings"):
            row["exc_msg"] = (row["exc_msg"] or "") + f"  [warnings: {'; '.join(row['warnings'])[:200]}]"
        rows.append(row)
        print_row(row)
    return rows


# =================================================================================================
# D: temporary files left by a killed save
# =================================================================================================

D_SAVE = '''
import sys
from rnnkit.layers import LSTM, Dense
from rnnkit.model import Sequential
m = Sequential([LSTM(512, num_layers=3), Dense(2)], seed=0)
m.build(64)
print("ready", flush=True)
m.save(sys.argv[1])
print("saved", flush=True)
'''


def kill_mid_save(folder, target, attempts=25):
    """Start a save of a ~5M-parameter LSTM, SIGKILL it once a temporary file shows up in ``folder``
    (after a small, growing delay), until a leftover is found. Returns a record."""
    script = os.path.join(folder, "..", "save_big.py")
    with open(script, "w") as fh:
        fh.write(D_SAVE)
    before = set(os.listdir(folder))
    log = []
    for attempt in range(attempts):
        p = subprocess.Popen([PY, script, target], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=_limit_memory)
        line = p.stdout.readline()
        if line.strip() != b"ready":
            p.kill()
            p.wait()
            return {"error": f"child did not start: {line!r} {p.stderr.read()[-500:]!r}"}
        delay = [0, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016][attempt % 7]
        t0 = time.perf_counter()
        seen = None
        while time.perf_counter() - t0 < 10 and p.poll() is None:
            new = set(os.listdir(folder)) - before - {os.path.basename(target)}
            sizes = {}
            for n in new:  # wait until the temporary file has data in it (mid-write, not just opened)
                try:
                    sizes[n] = os.path.getsize(os.path.join(folder, n))
                except OSError:
                    pass
            if any(sizes.values()):
                seen = {n: b for n, b in sizes.items()}
                break
        if delay:
            time.sleep(delay)
        killed = p.poll() is None
        if killed:
            p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        p.stderr.close()
        left = sorted(set(os.listdir(folder)) - before - {os.path.basename(target)})
        log.append({"attempt": attempt + 1, "delay_s": delay, "tmp_seen": seen, "killed": killed,
                    "leftovers": left})
        if left:
            return {"attempts": attempt + 1, "leftovers": left,
                    "leftover_bytes": {n: os.path.getsize(os.path.join(folder, n)) for n in left}, "log": log}
    return {"attempts": attempts, "leftovers": [], "log": log}


D_LOAD = '''
import os, sys
from rnnkit.model import Sequential
from rnnkit.layers import GRU, Dense
PATH = {path!r}
def case():
    out = {{}}
    if os.path.exists(PATH):
        try:
            m = Sequential.load(PATH)
            out["existing_loads"] = f"OK ({{m.num_params()}} params)"
        except Exception as e:
            out["existing_loads"] = f"{{type(e).__name__}}: {{str(e)[:120]}}"
    m = Sequential([GRU(8), Dense(2)]); m.compile("crossentropy"); m.build(3)
    m.save(PATH)
    out["listing_after_normal_save"] = sorted(os.listdir(os.path.dirname(PATH)))
    return out
_run(case)
'''


def run_d(work, only):
    rows = []
    for cid, desc, existing in (("D1", "kill -9 mid-save into an empty folder, then a normal save", False),
                                ("D2", "kill -9 mid-save over an existing model.npz, then a normal save", True)):
        if only and not re.search(only, cid):
            continue
        d = os.path.join(work, cid)
        folder = os.path.join(d, "models")
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, "model.npz")
        if existing:
            make_model(target)
        t0 = time.perf_counter()
        rec = kill_mid_save(folder, target)
        kill_s = time.perf_counter() - t0
        after_kill = sorted(os.listdir(folder))
        res = run_py(D_LOAD.format(path=target), d)
        row = {"id": cid, "group": "D", "desc": desc, **summarise(res), "kill": rec, "kill_phase_s": round(kill_s, 2),
               "listing_after_kill": after_kill}
        info = row.get("info") or {}
        final = info.get("listing_after_normal_save", [])
        remain = [n for n in rec.get("leftovers", []) if n in final]
        row["leftovers_after_kill"] = rec.get("leftovers", [])
        row["leftovers_remaining_after_normal_save"] = remain
        row["outcome"] = (f"{len(rec.get('leftovers', []))} leftover(s) after kill (attempt "
                          f"{rec.get('attempts')}); {len(remain)} remain after a normal save")
        row["exc_msg"] = f"left: {rec.get('leftovers')} sizes {rec.get('leftover_bytes')}; final dir: {final}"
        if existing:
            row["exc_msg"] += f"; old file after kill: {info.get('existing_loads')}"
        rows.append(row)
        print_row(row)
    return rows


# =================================================================================================
# output
# =================================================================================================

def _cell(row):
    o = str(row.get("outcome"))
    return o


def print_row(row):
    tb = "yes" if row.get("traceback") else "no"
    msg = (row.get("exc_msg") or "").replace("\n", " ")
    print(f"{row['id']:<7} {row['desc'][:62]:<62} | {_cell(row)[:40]:<40} | rc={row.get('rc')!s:>4} | tb={tb:<3} | "
          f"{row.get('wall_s') or 0:7.2f}s | {row.get('peak_rss_mb') or 0:7.1f} MB | {msg[:150]}", flush=True)


def print_summary(rows):
    print("\n== summary per group ==")
    for g in "ABCD":
        rs = [r for r in rows if r["group"] == g]
        if not rs:
            continue
        worst_t = max(rs, key=lambda r: r.get("wall_s") or 0)
        worst_m = max(rs, key=lambda r: r.get("peak_rss_mb") or 0)
        counts = {}
        for r in rs:
            if g == "D":
                counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
            key = r["outcome"] if g in "AC" and r["id"] != "A4" else None
            if g == "B":
                key = f"{r['outcome']}{' +traceback' if r['traceback'] else ''}"
            if key:
                counts[key] = counts.get(key, 0) + 1
        print(f"{g}: {len(rs)} cases; worst wall {worst_t['wall_s']:.2f}s ({worst_t['id']}), "
              f"peak RSS {worst_m['peak_rss_mb']:.0f} MB ({worst_m['id']}); "
              f"tracebacks {sum(bool(r.get('traceback')) for r in rs)}")
        for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"    {v:3d}  {k}")
        a4 = next((r for r in rs if r["id"] == "A4"), None)
        if a4 and a4.get("info"):
            i = a4["info"]
            print(f"    A4 ({i['n']} corrupted files): {i['counts']}; max load {i['max_s'] * 1000:.1f} ms, "
                  f"peak RSS {i['peak_rss_mb']:.0f} MB; non-ModelFileError examples "
                  f"(index, byte offsets, message): "
                  f"{ {k: v for k, v in i['examples'].items()} }")


def main():
    global WORK
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write every row (with stderr tails) to this JSON file")
    ap.add_argument("--only", help="run only the case ids matching this regex (e.g. '^B' or 'A3|C1$')")
    ap.add_argument("--a4-count", type=int, default=500, help="random corruptions in A4 (default 500)")
    ap.add_argument("--work", default=WORK, help="scratch folder (wiped first)")
    args = ap.parse_args()
    WORK = args.work
    if not os.path.isdir(os.path.join(ROOT, "src", "rnnkit")):
        sys.exit(f"run from the repository root (cwd {ROOT} has no src/rnnkit)")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    t0 = time.perf_counter()
    rows = []
    print(f"{'id':<7} {'case':<62} | {'outcome':<40} | {'rc':>7} | tb     | {'wall':>8} | {'peak RSS':>10} | message")
    for _group, fn in (("A", lambda: run_a(WORK, args.a4_count, args.only)), ("B", lambda: run_b(WORK, args.only)),
                       ("C", lambda: run_c(WORK, args.only)), ("D", lambda: run_d(WORK, args.only))):
        rows += fn()
    total = time.perf_counter() - t0
    print_summary(rows)
    print(f"\ntotal {total:.0f}s, {len(rows)} rows")
    if args.json:
        import rnnkit
        meta = {"python": sys.version, "numpy": np.__version__, "rnnkit": rnnkit.__version__,
                "rnnkit_file": rnnkit.__file__, "root": ROOT, "memory_limit_bytes": MEM_LIMIT,
                "timeouts": {"default": DEFAULT_TIMEOUT, "train": TRAIN_TIMEOUT}, "total_s": total,
                "a4_count": args.a4_count, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1, default=repr)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
