"""llm-jp-eval v1.4.1's own definition of each dataset, read as data.

The text that defines a Jaster prompt (the frame's header sentence, each dataset's instruction,
its output length and metrics) is written in llm-jp-eval's source: the dataset processors under
`src/llm_jp_eval/jaster/` and the prompt assembly in `src/llm_jp_eval/utils.py`. `jeval data
prepare` downloads those files at the v1.4.1 tag like any other source and reads the values out of
their syntax tree. Nothing from them is executed, and none of their text lives in jeval's code.

The values are read wherever a processor sets them: `self.output_info.<field> = ...` statements,
or the keyword arguments of an `OutputInfo(...)` call in the class (the Wikipedia processors build
one and hand it to their base class). Beside plain literals and `+` between them, the reader
understands the few expression forms those processors write, evaluated by a small interpreter over
the syntax tree: `textwrap.dedent(...)` optionally followed by `.rstrip()` / `.strip()` /
`.lstrip()`, f-strings whose fields are such expressions, class attributes named as `self.X`,
`cls.X` or `<Class>.X` (taken from the processor class or a base class in the same module),
`"<separator>".join(...)`, and `.values()` of a dictionary display (its keys are never evaluated).

Their checksums could not be established where jeval was written (no copy of the tag was
reachable), so these sources are unpinned: accepted on first download, their SHA-256 recorded in
the prepared manifest. Nor could the tag's layout be seen: the processors are looked for under
`jaster/` first, then under the older `datasets/`. A local copy (`--llm-jp-eval-dir`) stands for
the download; it is read through the same paths, so its prompts are the download's, byte for byte.
"""

from __future__ import annotations

import ast
import operator
import subprocess
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jeval.errors import JevalError
from jeval.source_status import NOT_CHECKED
from jeval.task import Source

if TYPE_CHECKING:
    from jeval.data.download import Checkout

TAG = "v1.4.1"
VERSION = TAG.removeprefix("v")
REPOSITORY = f"https://raw.githubusercontent.com/llm-jp/llm-jp-eval/{TAG}"
BASE = f"{REPOSITORY}/src/llm_jp_eval"
LAYOUTS = ("jaster", "datasets")
"""Where the tag may keep its dataset processors: `src/llm_jp_eval/jaster/` (the package v1.4.1's
processors are imported from) or the older `src/llm_jp_eval/datasets/`; both are tried, in order."""
LICENSE = "Apache-2.0 (llm-jp-eval)"
HOW_TO_SUPPLY = (
    "this file holds llm-jp-eval's prompt text (instructions and prompt frame), not data; supply it one of "
    f"three ways: download it (online, or --mirror holding raw.githubusercontent.com/llm-jp/llm-jp-eval/{TAG}/...), "
    f"--llm-jp-eval-dir DIR (a checkout or unpacked release of llm-jp-eval {TAG}), or --jaster-dir DIR "
    "(llm-jp-eval's preprocessed files, with utils.py from one of the other two); or prepare without "
    "--prompts llm-jp-eval for jeval's own protocol jeval-jaster-1, which needs no llm-jp-eval file"
)
UTILS = Source(f"{BASE}/utils.py", "", LICENSE, unavailable=HOW_TO_SUPPLY, defines_prompt=True, status=NOT_CHECKED)
FRAME_MARKER = "\n\n### 指示:\n"


def processor_source(module: str) -> Source:
    """The llm-jp-eval module holding a dataset's processor (`alt` holds alt-e-to-j and alt-j-to-e),
    in either layout."""
    first, *others = (f"{BASE}/{layout}/{module}.py" for layout in LAYOUTS)
    return Source(first, "", LICENSE, unavailable=HOW_TO_SUPPLY, defines_prompt=True, alternatives=tuple(others),
                  status=NOT_CHECKED)


def open_checkout(folder: Path) -> Checkout:
    """A local llm-jp-eval (a git checkout, an unpacked release, or the installed package) standing
    for the files under the v1.4.1 tag's `src/llm_jp_eval/`. Its version is read from its
    pyproject.toml or installed metadata: another version is an error; where none can be read the
    files count as unverified (the protocol name then says so)."""
    from jeval.data.download import Checkout

    folder = folder.expanduser()
    if not folder.is_dir():
        raise JevalError(f"--llm-jp-eval-dir {folder}: no such folder")
    candidates = (folder / "src" / "llm_jp_eval", folder / "llm_jp_eval", folder)
    package = next((c for c in candidates if (c / "utils.py").is_file() and any((c / layout).is_dir()
                                                                                  for layout in LAYOUTS)), None)
    if package is None:
        raise JevalError(f"--llm-jp-eval-dir {folder}: not an llm-jp-eval checkout (looked for utils.py beside "
                         f"jaster/ or datasets/ in {', '.join(str(c) for c in candidates)})")
    found = _checkout_version(folder, package)
    if found is not None and found != VERSION:
        raise JevalError(f"--llm-jp-eval-dir {folder} holds llm-jp-eval {found}; the llm-jp-eval protocol jeval "
                         f"implements is {VERSION} (check out tag {TAG})")
    edited = _locally_edited(package)
    origin = "checkout" if found == VERSION and not edited else "unverified"
    what = f"llm-jp-eval {found}" if found else "llm-jp-eval of unknown version"
    return Checkout(f"{BASE}/", package.resolve(), origin, f"{what} at {folder}{edited}")


def _locally_edited(package: Path) -> str:
    """", with local changes" where `package` lies in a git working tree whose files there differ
    from its commit (edited prompt text is not llm-jp-eval's); "" otherwise, or where git cannot
    tell (an unpacked release, no git installed)."""
    try:
        changed = subprocess.run(["git", "-C", str(package), "status", "--porcelain", "--", "."],
                                 capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return ", with local changes" if changed.returncode == 0 and changed.stdout.strip() else ""


def _checkout_version(folder: Path, package: Path) -> str | None:
    for pyproject in (folder / "pyproject.toml", package.parent.parent / "pyproject.toml"):
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise JevalError(f"{pyproject}: not readable TOML ({e})") from None
            for table in (data.get("project", {}), data.get("tool", {}).get("poetry", {})):
                if isinstance(table, dict) and isinstance(table.get("version"), str):
                    return str(table["version"])
    for metadata in sorted(package.parent.glob("llm_jp_eval-*.dist-info/METADATA")):
        for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    return None


@dataclass(frozen=True)
class OutputInfo:
    instruction: str
    output_length: int
    metrics: tuple[str, ...]


def _parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as e:
        raise JevalError(f"{path}: not a readable Python source file ({e})") from None


_STRIP_METHODS = ("rstrip", "strip", "lstrip")


@dataclass(frozen=True)
class _Scope:
    """Where class attributes named in an expression are looked up: the processor class and its
    bases defined in the same module, nearest first."""

    path: Path
    classes: tuple[ast.ClassDef, ...] = ()

    def attribute(self, name: str, node: ast.expr) -> ast.expr:
        for cls in self.classes:
            for stmt in cls.body:
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                        and stmt.targets[0].id == name):
                    return stmt.value
                if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name
                        and stmt.value is not None):
                    return stmt.value
        raise JevalError(f"{self.path}:{node.lineno}: {ast.unparse(node)!r} names no class attribute set to a literal")


def _fail(node: ast.expr, path: Path) -> JevalError:
    return JevalError(f"{path}:{node.lineno}: expected a literal value, found {ast.unparse(node)!r}")


def _is_dedent(func: ast.expr) -> bool:
    return ((isinstance(func, ast.Attribute) and func.attr == "dedent" and isinstance(func.value, ast.Name)
             and func.value.id == "textwrap") or (isinstance(func, ast.Name) and func.id == "dedent"))


def _class_attribute_name(node: ast.expr, scope: _Scope) -> str | None:
    """`X` for `self.X`, `cls.X` or `<one of the scope's classes>.X`."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owners = {"self", "cls", *(c.name for c in scope.classes)}
        if node.value.id in owners:
            return node.attr
    return None


def _evaluate(node: ast.expr, scope: _Scope, depth: int = 0) -> object:
    """The value of a literal expression in the forms listed in the module docstring; anything else
    is an error. Nothing is executed: each form is computed here from the syntax tree."""
    path = scope.path
    if depth > 20:
        raise _fail(node, path)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _evaluate(node.left, scope, depth + 1), _evaluate(node.right, scope, depth + 1)
        if type(left) is not type(right) or not isinstance(left, str | list | tuple | int):
            raise _fail(node, path)
        return operator.add(left, right)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_evaluate(e, scope, depth + 1) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _evaluate(node.operand, scope, depth + 1)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _fail(node, path)
        return -value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                parts.append(part.value)
            elif isinstance(part, ast.FormattedValue) and part.conversion == -1 and part.format_spec is None:
                value = _evaluate(part.value, scope, depth + 1)
                if not isinstance(value, str | int):
                    raise _fail(part.value, path)
                parts.append(str(value))
            else:
                raise _fail(node, path)
        return "".join(parts)
    name = _class_attribute_name(node, scope)
    if name is not None:
        return _evaluate(scope.attribute(name, node), scope, depth + 1)
    if isinstance(node, ast.Call) and not node.keywords:
        func, args = node.func, node.args
        if _is_dedent(func) and len(args) == 1:
            text = _evaluate(args[0], scope, depth + 1)
            if isinstance(text, str):
                return textwrap.dedent(text)
        elif isinstance(func, ast.Attribute) and func.attr in _STRIP_METHODS and len(args) <= 1:
            text = _evaluate(func.value, scope, depth + 1)
            chars = _evaluate(args[0], scope, depth + 1) if args else None
            if isinstance(text, str) and (chars is None or isinstance(chars, str)):
                return getattr(text, func.attr)(chars)
        elif isinstance(func, ast.Attribute) and func.attr == "join" and len(args) == 1:
            separator = _evaluate(func.value, scope, depth + 1)
            sequence = _evaluate(args[0], scope, depth + 1)
            if isinstance(separator, str) and isinstance(sequence, list | tuple):
                texts = [i for i in sequence if isinstance(i, str)]
                if len(texts) == len(sequence):
                    return separator.join(texts)
        elif isinstance(func, ast.Attribute) and func.attr == "values" and not args:
            target = func.value
            attribute = _class_attribute_name(target, scope)
            if attribute is not None:
                target = scope.attribute(attribute, target)
            if isinstance(target, ast.Dict):
                return [_evaluate(v, scope, depth + 1) for v in target.values]
    raise _fail(node, path)


def _literal(node: ast.expr, path: Path, classes: tuple[ast.ClassDef, ...] = ()) -> object:
    """A literal value (see the module docstring for the forms understood)."""
    return _evaluate(node, _Scope(path, classes))


def _data_name(cls: ast.ClassDef) -> str | None:
    for stmt in cls.body:
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id == "data_name" and isinstance(stmt.value, ast.Constant)):
            return _text_or_none(stmt.value)
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == "data_name"
                and isinstance(stmt.value, ast.Constant)):
            return _text_or_none(stmt.value)
    return None


def _text_or_none(node: ast.Constant) -> str | None:
    return node.value if isinstance(node.value, str) else None


def _is_output_info_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "OutputInfo")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "OutputInfo"))


def _output_info_assignments(cls: ast.ClassDef) -> dict[str, ast.expr]:
    """`self.output_info.<field> = value` statements in the class's methods, and the keyword
    arguments of `OutputInfo(...)` calls there, the first of each field in source order."""
    found: dict[str, ast.expr] = {}
    nodes = sorted((n for n in ast.walk(cls) if isinstance(n, ast.Assign | ast.AnnAssign | ast.Call)),
                   key=lambda n: (n.lineno, n.col_offset))
    for node in nodes:
        if isinstance(node, ast.Call):
            if _is_output_info_call(node):
                for keyword in node.keywords:
                    if keyword.arg is not None:
                        found.setdefault(keyword.arg, keyword.value)
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
                    and target.value.attr == "output_info" and node.value is not None):
                found.setdefault(target.attr, node.value)
    return found


def _processor_lineage(path: Path, data_name: str) -> list[ast.ClassDef]:
    """The processor class whose `data_name` is given, then its base classes in the same module."""
    module = _parse(path)
    classes = {c.name: c for c in module.body if isinstance(c, ast.ClassDef)}
    chosen = next((c for c in classes.values() if _data_name(c) == data_name), None)
    if chosen is None:
        raise JevalError(f"{path}: no dataset processor with data_name = {data_name!r}")
    lineage, seen, found = [chosen], set(), []
    while lineage:
        cls = lineage.pop(0)
        if cls.name in seen:
            continue
        seen.add(cls.name)
        found.append(cls)
        lineage += [classes[b.id] for b in cls.bases if isinstance(b, ast.Name) and b.id in classes]
    return found


def read_class_mapping(path: Path, data_name: str, names: tuple[str, ...]) -> dict[str, object]:
    """A dictionary that a processor keeps as a class attribute (the first of `names` it sets),
    keyed by each key's last name (`NamedEntityCategory.PERSON` gives "PERSON"), its values read
    as literals. The keys are never evaluated."""
    scope = _Scope(path, tuple(_processor_lineage(path, data_name)))
    for name in names:
        try:
            node = scope.attribute(name, ast.Name(id=name, lineno=0))
        except JevalError:
            continue
        if not isinstance(node, ast.Dict):
            raise JevalError(f"{path}:{node.lineno}: {name} of processor {data_name!r} is not a dictionary display")
        mapping: dict[str, object] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Attribute):
                label = key.attr
            elif isinstance(key, ast.Name):
                label = key.id
            elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                label = key.value
            else:
                raise JevalError(f"{path}:{value.lineno}: unexpected key in {name} of processor {data_name!r}")
            mapping[label] = _evaluate(value, scope)
        return mapping
    raise JevalError(f"{path}: processor {data_name!r} sets none of {', '.join(names)}")


def read_output_info(path: Path, data_name: str) -> OutputInfo:
    """The instruction, output length and metrics of the processor whose `data_name` is given.

    A processor that inherits them takes them from its base class in the same module."""
    scope = _processor_lineage(path, data_name)
    fields: dict[str, ast.expr] = {}
    for cls in scope:
        for key, value in _output_info_assignments(cls).items():
            fields.setdefault(key, value)
    missing = [k for k in ("instruction", "output_length", "metrics") if k not in fields]
    if missing:
        raise JevalError(f"{path}: processor {data_name!r} sets no output_info.{', output_info.'.join(missing)}")
    instruction = _literal(fields["instruction"], path, tuple(scope))
    length = _literal(fields["output_length"], path, tuple(scope))
    metrics = _literal(fields["metrics"], path, tuple(scope))
    if not isinstance(instruction, str) or not isinstance(length, int) or not (
            isinstance(metrics, list | tuple) and all(isinstance(m, str) for m in metrics)):
        raise JevalError(f"{path}: processor {data_name!r} has an instruction, output_length or metrics "
                         "of the wrong type")
    return OutputInfo(instruction, length, tuple(metrics))


def read_prompt_header(path: Path) -> str:
    """The sentence that opens every prompt: the text before the first `### 指示:` section in the
    string literals of llm-jp-eval's prompt assembly (plain strings and f-string parts alike)."""
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and FRAME_MARKER in node.value:
            header = node.value.split(FRAME_MARKER, 1)[0]
            if header.strip():
                return header
    raise JevalError(f"{path}: no prompt frame (a string with a header followed by {FRAME_MARKER!r}) was found")
