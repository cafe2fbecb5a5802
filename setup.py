"""Package layout: the top-level folders become one import name, `jeval`.

Every folder under these roots that holds an `__init__.py` is a package, and every other file in
them (task YAML, sample data, templates) ships as package data, so a new plugin folder lands in the
wheel without editing a list. The rest of the metadata lives in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_ROOTS = {
    "jeval": "evals",
    "jeval.tasks": "tasks",
    "jeval.judges": "judges",
    "jeval.arena": "arena",
    "jeval.models": "models",
}
SKIPPED = ("__pycache__",)
HERE = Path(__file__).resolve().parent


def _skipped(path: Path) -> bool:
    return any(part in SKIPPED or part.startswith(".") for part in path.parts)


def find_packages() -> dict[str, str]:
    """Import name -> folder, for every package under the roots."""
    found: dict[str, str] = {}
    for name, folder in PACKAGE_ROOTS.items():
        root = HERE / folder
        for init in sorted(root.rglob("__init__.py")):
            relative = init.parent.relative_to(root)
            if _skipped(relative):
                continue
            dotted = ".".join((name, *relative.parts))
            found.setdefault(dotted, (Path(folder) / relative).as_posix())
    return found


def find_package_data(packages: dict[str, str]) -> dict[str, list[str]]:
    """Every file that is not a module of a package, assigned to the nearest package that contains it."""
    data: dict[str, list[str]] = {}
    folders = {folder: name for name, folder in packages.items()}
    for folder in PACKAGE_ROOTS.values():
        for path in sorted((HERE / folder).rglob("*")):
            relative = path.relative_to(HERE)
            if not path.is_file() or _skipped(relative):
                continue
            if path.suffix == ".py" and relative.parent.as_posix() in folders:
                continue
            owner = relative.parent
            while owner.as_posix() not in folders:
                owner = owner.parent
            data.setdefault(folders[owner.as_posix()], []).append(path.relative_to(HERE / owner).as_posix())
    return data


if __name__ == "__main__":
    from setuptools import setup

    packages = find_packages()
    setup(packages=sorted(packages), package_dir=packages, package_data=find_package_data(packages))
