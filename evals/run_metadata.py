"""What a results file records about how it was made, beyond the evaluation itself: the command
line, the versions of jeval (with its git commit when it runs from a checkout) and of the libraries
that move scores, the machine, and the seed.

Nothing here may disturb the run: git is asked only where jeval's own package folder is tracked
by a git work tree, with its messages captured (never "fatal: not a git repository" on the
terminal); GPUs are named without initialising CUDA in this process.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jeval

LIBRARIES = ("torch", "transformers", "tokenizers", "openai", "vllm", "lm_eval")
GIT_TIMEOUT_S = 5.0
SEED_USE = ("sent to servers as the `seed` field of sampled requests (temperature > 0), plus the sample's index "
            "for several samples of one item; greedy requests are sent and cached as without a seed; in-process "
            "generation (--backend local) does not use it")


def _git(folder: Path, *args: str) -> str | None:
    """git's output in `folder`, or None where git is absent, fails or hangs; its stderr is kept."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _inside_work_tree(folder: Path) -> bool:
    """Whether any folder from `folder` up holds a `.git` (folder or file): git is not asked otherwise."""
    return any((parent / ".git").exists() for parent in (folder, *folder.parents))


def git_commit(package_dir: Path) -> dict[str, Any] | None:
    """The commit of the checkout jeval runs from (and whether its tracked files were changed), or
    None where the package is not a tracked part of a git work tree (an installed wheel, a copy,
    a package folder that a surrounding repository ignores)."""
    if not _inside_work_tree(package_dir) or _git(package_dir, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None
    commit = _git(package_dir, "rev-parse", "HEAD")
    if not commit:
        return None
    changed = _git(package_dir, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if changed is None else bool(changed)}


def package_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that move scores (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def versions() -> dict[str, Any]:
    """jeval's version and git commit, Python's, and the score-moving libraries'."""
    return {"jeval": jeval.__version__, "jeval_git": git_commit(Path(jeval.__file__).resolve().parent),
            "python": platform.python_version(), **package_versions()}


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gpus() -> list[dict[str, Any]]:
    """The GPUs this process can see: from torch where this process already initialised CUDA,
    else from `nvidia-smi` (which does not touch this process), else none."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        out = []
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out.append({"name": props.name, "memory_bytes": int(props.total_memory)})
        return out
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    found = []
    for line in done.stdout.splitlines():
        name, _, memory = line.rpartition(",")
        if name.strip():
            mib = memory.strip()
            found.append({"name": name.strip(), "memory_bytes": int(mib) * 2**20 if mib.isdigit() else None})
    return found


def hardware() -> dict[str, Any]:
    """The machine: CPU model, cores (all, and those this process may use), memory, GPUs."""
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {"cpu": _cpu_model(), "cpu_cores": os.cpu_count(), "cpu_cores_usable": usable,
            "memory_bytes": _memory_bytes(), "gpus": gpus(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "platform": platform.platform(), "machine": platform.machine()}


def invocation(command_line: Sequence[str]) -> dict[str, Any]:
    """How the run was started: jeval's command line where it came through it, else the Python
    process's own arguments (jeval called as a library); and the working folder, against which
    relative paths in them resolve."""
    if command_line:
        return {"argv": list(command_line), "via": "jeval command line", "cwd": os.getcwd()}
    return {"argv": list(sys.argv), "via": "python (jeval.runner.run called from a program)", "cwd": os.getcwd()}


def run_metadata(command_line: Sequence[str], seed: int | None) -> dict[str, Any]:
    """The results.json fields this module owns: `command_line`, `versions`, `hardware`, `seed` (and
    `seed_use`, what the seed was used for, where one was given)."""
    return {"command_line": invocation(command_line), "versions": versions(), "hardware": hardware(),
            "seed": seed, **({"seed_use": SEED_USE} if seed is not None else {})}
