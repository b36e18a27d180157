"""What docs/architecture.md promises about the code, checked: no import cycle (module- or
function-level), no source file over 400 lines, the layers import only the layers before them,
and checking options never imports torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from paths import SRC

PACKAGE = SRC / "aikd_cli"
MAX_LINES = 400
#: images -> models -> faces -> tasks -> cli; a module may import only from its layer or the ones before.
LAYERS = ["images", "models", "faces", "tasks", "cli"]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Every aikd_cli module ``name`` imports, at any depth of the file (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("aikd_cli"):
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def test_no_import_cycles():
    graph = _graph()
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_no_source_file_over_400_lines():
    long = {str(p.relative_to(SRC)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_layers_import_only_the_layers_before_them():
    def layer(name: str) -> int | None:
        part = name.split(".")[1] if name.count(".") else None
        return LAYERS.index(part) if part in LAYERS else None

    wrong = []
    for name, targets in _graph().items():
        mine = layer(name)
        if mine is None:
            continue
        wrong += [(name, t) for t in targets if layer(t) is not None and layer(t) > mine]
    assert not wrong, wrong


def test_options_of_every_command_load_without_torch():
    code = ("import sys\n"
            "import aikd_cli.cli.app\n"
            "for m in ('score', 'align', 'label', 'report', 'evaluate', 'export'):\n"
            "    __import__(f'aikd_cli.tasks.{m}.options')\n"
            "import aikd_cli.tasks.distill.config, aikd_cli.tasks.models\n"
            "print(sorted(m for m in ('torch', 'torchvision', 'onnxruntime') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)})
    assert out.stdout.strip() == "[]", out.stderr


def test_no_public_name_is_also_a_submodule_name():
    """``from aikd_cli.tasks.export import run`` must give the function whatever was imported
    before: once a submodule ``run.py`` is imported, Python binds the package attribute to it."""
    clashes = []
    for init in PACKAGE.rglob("__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                names |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                names |= {e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        submodules = {p.stem for p in init.parent.glob("*.py")} | {p.name for p in init.parent.iterdir() if p.is_dir()}
        clashes += [f"{init.parent.relative_to(SRC)}: {n}" for n in sorted(names & submodules)]
    assert not clashes, clashes
