"""Find task plugins and resolve task and group names.

A plugin is a folder under `jeval.tasks` (or a module registered under the `jeval.tasks` entry-point
group by another distribution). A Python plugin's `__init__` exposes `PLUGIN`, a jeval.task.Plugin:
its tasks, groups (group name -> task names), suites, and resolvers (name prefix -> a function
building a task from a whole name, for open-ended names such as `lm-eval:<any lm-eval task>`).
A folder holding `task.yaml` and no Python is a declarative generation task (see jeval.declarative).

Plugins are imported to list their tasks, so a plugin's `__init__` imports no heavy library
(torch, transformers, lm_eval): those are imported where requests are answered or scored.
The registry is read once per process.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import jeval.tasks
from jeval.errors import JevalError
from jeval.task import Plugin, Suite, Task

DECLARATIVE_FILE = "task.yaml"


@dataclass(frozen=True)
class Registry:
    tasks: dict[str, Task]
    groups: dict[str, tuple[str, ...]]
    suites: dict[str, Suite]
    resolvers: dict[str, Callable[[str], Task]]

    def find(self, name: str) -> Task | None:
        """The task of this name (built by its resolver for open-ended names), or None."""
        prefix = next((p for p in self.resolvers if name.startswith(p)), None)
        if prefix is not None:
            return self.resolvers[prefix](name)
        return self.tasks.get(name) or self.tasks.get(_folded(name, self.tasks), None)

    def named(self, names: list[str]) -> set[str]:
        """The tasks among `names` that are named by themselves, not through a group."""
        return {task.spec.name for name in names if (task := self.find(name)) is not None}

    def resolve(self, names: list[str]) -> list[Task]:
        """Expand groups, keep the order given, drop repeats; unknown names are an error."""
        chosen: list[str] = []
        built: dict[str, Task] = {}
        for name in names:
            task = self.find(name)
            group = self.groups.get(name) or self.groups.get(_folded(name, self.groups))
            if task is not None:
                built[task.spec.name] = task
                members = [task.spec.name]
            elif group is not None:
                members = list(group)
            else:
                known = sorted(self.tasks) + sorted(self.groups)
                same = [k for k in known if k.casefold() == name.casefold()]  # more than one: not guessed
                close = same or difflib.get_close_matches(name, known, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise JevalError(f"unknown task {name!r}{hint} (`jeval tasks list` shows all)")
            chosen.extend(m for m in members if m not in chosen)
        if not chosen:
            raise JevalError("no tasks given (--tasks a,b or a group such as jaster)")
        return [built.get(n) or self.tasks[n] for n in chosen]


def _folded(name: str, known: Iterable[str]) -> str:
    """Names are matched without regard to case (`JAMP` is `jamp`) where the case-folded name
    matches exactly one known name; an exact match is looked up first, and two candidates are
    never guessed between (the name is then returned as it is, and matches nothing)."""
    matches = [k for k in known if k.casefold() == name.casefold()]
    return matches[0] if len(matches) == 1 else name


def _plugin_folders() -> Iterator[Path]:
    for root in jeval.tasks.__path__:
        for folder in sorted(Path(root).iterdir()):
            if folder.is_dir() and not folder.name.startswith((".", "_")):
                yield folder


def _modules() -> Iterator[ModuleType]:
    for info in pkgutil.iter_modules(jeval.tasks.__path__, "jeval.tasks."):
        if info.ispkg:
            yield importlib.import_module(info.name)
    for ep in entry_points(group="jeval.tasks"):
        yield ep.load()


@functools.cache
def load_registry() -> Registry:
    tasks: dict[str, Task] = {}
    groups: dict[str, list[str]] = {}
    suites: dict[str, Suite] = {}
    resolvers: dict[str, Callable[[str], Task]] = {}

    def add(task: Task, where: str) -> None:
        if task.spec.name in tasks:
            raise JevalError(f"task {task.spec.name!r} is registered twice (second time by {where})")
        tasks[task.spec.name] = task

    for module in _modules():
        plugin = module.__dict__.get("PLUGIN")
        if not isinstance(plugin, Plugin):
            raise JevalError(f"task plugin {module.__name__} declares no PLUGIN (a jeval.task.Plugin)")
        resolvers.update(plugin.resolvers)
        suites.update({s.name: s for s in plugin.suites})
        for task in plugin.tasks:
            add(task, module.__name__)
        for group, members in plugin.groups.items():
            groups.setdefault(group, []).extend(m for m in members if m not in groups.get(group, []))
    declarative = [f for f in _plugin_folders()
                   if (f / DECLARATIVE_FILE).is_file() and not (f / "__init__.py").exists()]
    if declarative:
        from jeval.declarative import load_declarative

        for folder in declarative:
            add(load_declarative(folder / DECLARATIVE_FILE), str(folder / DECLARATIVE_FILE))
    for group, listed in groups.items():
        missing = [m for m in listed if m not in tasks and m not in groups]
        if missing:
            raise JevalError(f"group {group!r} names unknown tasks: {', '.join(missing)}")
    return Registry(tasks, {g: tuple(m) for g, m in groups.items()}, suites, resolvers)
