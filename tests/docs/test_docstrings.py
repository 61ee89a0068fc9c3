"""The API reference's docstrings: one style (numpydoc) for every public name the reference shows,
with its parameters, returns and raises written out, and an executed example.

The public API is what ``docs/api/*.md`` renders: each ``::: rnnkit.x`` line names a module (its public
functions and classes, those defined there) or a class; a class brings its public methods and
properties. For each of them:

- a docstring;
- functions and methods: a ``Parameters`` section naming every parameter (``self`` and ``cls`` aside)
  when there are any, ``Returns`` (or ``Yields``) when the body returns a value, ``Raises`` when the
  body raises;
- classes: the constructor's parameters in the class docstring's ``Parameters``; an ``Examples``
  section with at least one ``>>>`` line, for classes and module-level functions;
- every ``Examples`` section runs (doctest, in a fresh folder, ``RNNKIT_DOCS_QUICK=1``) and its
  printed output must match.
"""
from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DIRECTIVE = re.compile(r"^:::\s*(rnnkit[\w.]*)\s*$", re.M)
SECTION = re.compile(r"^\s*(Parameters|Returns|Yields|Raises|Examples|Attributes|Notes|See Also|References|"
                     r"Warns|Other Parameters)\n\s*-{3,}\s*$", re.M)


def _resolve(dotted):
    """The module or class a ``:::`` line names."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def _members(cls):
    """Public methods and properties a class defines itself (inherited ones are documented where defined)."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            out.append((f"{cls.__module__}.{cls.__qualname__}.{name}", value, "method"))
    return out


def public_api():
    """[(qualified name, object, kind)] for every object the API reference renders."""
    seen, out = set(), []

    def add(qual, obj, kind):
        if qual not in seen:
            seen.add(qual)
            out.append((qual, obj, kind))

    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        for dotted in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            obj = _resolve(dotted)
            if inspect.ismodule(obj):
                for name, value in vars(obj).items():
                    if name.startswith("_") or getattr(value, "__module__", None) != obj.__name__:
                        continue
                    if inspect.isclass(value):
                        add(f"{obj.__name__}.{name}", value, "class")
                        for m in _members(value):
                            add(*m)
                    elif inspect.isfunction(value):
                        add(f"{obj.__name__}.{name}", value, "function")
            elif inspect.isfunction(obj):
                add(dotted, obj, "function")
            elif inspect.isclass(obj):
                add(f"{obj.__module__}.{obj.__qualname__}", obj, "class")
                for m in _members(obj):
                    add(*m)
    return out


API = public_api()


def _sections(doc):
    """{section title: text under it}."""
    doc = inspect.cleandoc(doc or "")
    heads = list(SECTION.finditer(doc))
    return {m.group(1): doc[m.end():heads[i + 1].start() if i + 1 < len(heads) else len(doc)]
            for i, m in enumerate(heads)}


def _function_node(func):
    lines = inspect.getsource(func).splitlines()
    indent = len(lines[0]) - len(lines[0].lstrip())
    tree = ast.parse("\n".join(line[indent:] for line in lines))
    return tree.body[0]


def _own_nodes(fn):
    """The nodes of ``fn``'s body, nested functions and classes aside."""
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _param_names(fn):
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [f"*{a.vararg.arg}"] if a.vararg else []
    names += [f"**{a.kwarg.arg}"] if a.kwarg else []
    return [n for n in names if n not in ("self", "cls")]


def _documented(section):
    """Parameter names a numpydoc Parameters section lists (``x, y : type`` lines at its left margin)."""
    names = set()
    for line in section.splitlines():
        if line and not line[0].isspace():
            for part in line.split(":")[0].split(","):
                names.add(part.strip())
    return names


def problems(qual, obj, kind):
    doc = obj.__doc__
    if not doc or not doc.strip():
        return [f"{qual}: no docstring"]
    sec = _sections(doc)
    bad = []
    func = obj.fget if isinstance(obj, property) else (obj.__init__ if kind == "class" else obj)
    if kind == "class" and func is object.__init__:
        func = None
    if func is not None and inspect.isfunction(func) and not isinstance(obj, property):
        fn = _function_node(func)
        params = _param_names(fn)
        if params:
            missing = [p for p in params if p.lstrip("*") not in {n.lstrip("*") for n in _documented(
                sec.get("Parameters", ""))}]
            if missing:
                bad.append(f"{qual}: Parameters section lacks {', '.join(missing)}")
        if kind != "class":
            nodes = list(_own_nodes(fn))
            returns = any(isinstance(n, ast.Return) and n.value is not None
                          and not (isinstance(n.value, ast.Constant) and n.value.value is None) for n in nodes)
            if returns and "Returns" not in sec and "Yields" not in sec:
                bad.append(f"{qual}: returns a value but has no Returns section")
            if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes) and "Yields" not in sec:
                bad.append(f"{qual}: yields but has no Yields section")
            if any(isinstance(n, ast.Raise) and n.exc is not None for n in nodes) and "Raises" not in sec:
                bad.append(f"{qual}: raises but has no Raises section")
    if kind in ("class", "function") and ">>>" not in sec.get("Examples", ""):
        bad.append(f"{qual}: no Examples section with a >>> line")
    return bad


def test_the_reference_covers_the_package():
    kinds = {k for _, _, k in API}
    assert kinds == {"class", "function", "method"} and len(API) > 150


def test_every_public_name_has_a_numpydoc_docstring():
    bad = [p for item in API for p in problems(*item)]
    assert not bad, f"{len(bad)} docstring problems:\n  " + "\n  ".join(bad)


EXAMPLES = [(q, o) for q, o, k in API if ">>>" in _sections(o.__doc__).get("Examples", "")]


@pytest.mark.parametrize("qual,obj", EXAMPLES, ids=[q for q, _ in EXAMPLES])
def test_examples_run(qual, obj, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNKIT_DOCS_QUICK", "1")
    # No globals: an example imports what it uses, so that it can be copied as it stands.
    test = doctest.DocTestParser().get_doctest(_sections(obj.__doc__)["Examples"], {}, qual, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    with np.printoptions(precision=4, suppress=True):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_checker_catches_a_missing_section():
    def f(x, y):
        """Add.

        Parameters
        ----------
        x : int
            One.
        """
        if x < 0:
            raise ValueError("x")
        return x + y
    bad = problems("f", f, "function")
    assert any("lacks y" in p for p in bad) and any("Returns" in p for p in bad)
    assert any("Raises" in p for p in bad) and any("Examples" in p for p in bad)
