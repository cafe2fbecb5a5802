"""The Jaster suite as llm-jp-eval v1.4.1 scores it, under either prompt text (see protocol.py):
which datasets make up each category, which metric stands for each dataset in its category, and
how categories become the average.

A dataset that has a converter module here is built from upstream files by `jeval data prepare`;
every dataset can also be taken from llm-jp-eval's own preprocessed files with `--jaster-dir`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from statistics import mean
from typing import Any

from jeval.errors import JevalError
from jeval.provenance import base_protocol, suffixes_of
from jeval.stderr import stderr_key, unweighted_mean_stderr
from jeval.task import ColumnValue, Suite, finite
from jeval.tasks.jaster.protocol import PROTOCOLS, JasterTask


@dataclass(frozen=True)
class Member:
    name: str
    category: str
    module: str
    metric: str


# (dataset, category, llm-jp-eval module, the metric that stands for it in its category)
MEMBERS = tuple(Member(*row) for row in (
    ("jamp", "NLI", "jamp", "exact_match"),
    ("janli", "NLI", "janli", "exact_match"),
    ("jnli", "NLI", "jnli", "exact_match"),
    ("jsem", "NLI", "jsem", "exact_match"),
    ("jsick", "NLI", "jsick", "exact_match"),
    ("jemhopqa", "QA", "jemhopqa", "char_f1"),
    ("niilc", "QA", "niilc", "char_f1"),
    ("aio", "QA", "aio", "char_f1"),
    ("jsquad", "RC", "jsquad", "char_f1"),
    ("jcommonsenseqa", "MC", "jcommonsenseqa", "exact_match"),
    ("commonsensemoralja", "MC", "commonsensemoralja", "exact_match"),
    ("kuci", "MC", "kuci", "exact_match"),
    ("chabsa", "EL", "chabsa", "set_f1"),
    ("wiki_reading", "FA", "wiki/reading", "char_f1"),
    ("wiki_ner", "FA", "wiki/ner", "set_f1"),
    ("wiki_dependency", "FA", "wiki/dependency", "set_f1"),
    ("wiki_pas", "FA", "wiki/pas", "set_f1"),
    ("wiki_coreference", "FA", "wiki/coreference", "set_f1"),
    ("mawps", "MR", "mawps", "exact_match"),
    ("mgsm", "MR", "mgsm", "exact_match"),
    ("alt-e-to-j", "MT", "alt", "comet_wmt22"),
    ("alt-j-to-e", "MT", "alt", "comet_wmt22"),
    ("wikicorpus-e-to-j", "MT", "wikicorpus", "comet_wmt22"),
    ("wikicorpus-j-to-e", "MT", "wikicorpus", "comet_wmt22"),
    ("mmlu_en", "HE", "mmluen", "exact_match"),
    ("jmmlu", "HE", "jmmlu", "exact_match"),
    ("mbpp", "CG", "mbpp", "code_exec"),
    ("xlsum_ja", "SUM", "xlsum_ja", "rouge2"),
    ("jsts", "STS", "jsts", "pearson"),
))
AVERAGED = ("NLI", "QA", "RC", "MC", "EL", "FA", "MR", "MT", "HE", "CG", "SUM")
REPORTED_ONLY = ("STS",)
OPT_IN = {"xlsum_ja": "XL-Sum is licensed CC BY-NC-SA 4.0 (non-commercial); it runs only when named"}
ZERO_SHOT = ("mbpp", "xlsum_ja")
# Metrics reported on 0-100 that llm-jp-eval rescales to 0-1 before averaging (its rouge2_scaling).
SCALE = {"rouge2": 100.0}
BY_NAME = {m.name: m for m in MEMBERS}
CONVERTER_MODULES = (
    "jcommonsenseqa", "jamp", "janli", "jnli", "jsem", "jsick", "jsts", "jemhopqa", "niilc", "jsquad", "mgsm",
    "jmmlu", "mawps", "mmlu_en", "aio", "commonsensemoralja", "kuci", "chabsa", "mbpp", "xlsum_ja", "alt",
    "wikicorpus", "wiki_reading", "wiki_ner", "wiki_dependency", "wiki_pas", "wiki_coreference",
)


def _converted() -> dict[str, JasterTask]:
    found: dict[str, JasterTask] = {}
    for module in CONVERTER_MODULES:
        try:
            loaded = importlib.import_module(f"jeval.tasks.jaster.{module}")
        except ModuleNotFoundError as e:
            if e.name != f"jeval.tasks.jaster.{module}":
                raise
            continue
        for task in getattr(loaded, "TASKS", None) or [loaded.TASK]:
            found[task.name] = task
    return found


def build_tasks() -> list[JasterTask]:
    """Every dataset of the suite: its converter where one exists, otherwise a task prepared
    only from llm-jp-eval's own files."""
    converted = _converted()
    tasks = []
    for m in MEMBERS:
        task = converted.get(m.name) or JasterTask(name=m.name, category=m.category, module=m.module)
        shots = 0 if m.name in ZERO_SHOT else task.default_shots
        tasks.append(replace(task, category=m.category, default_shots=shots))
    return tasks


def build_groups() -> dict[str, tuple[str, ...]]:
    averaged = tuple(m.name for m in MEMBERS if m.category in AVERAGED and m.name not in OPT_IN)
    groups = {"jaster": averaged}
    for category in (*AVERAGED, *REPORTED_ONLY):
        groups[f"jaster_{category.lower()}"] = tuple(m.name for m in MEMBERS if m.category == category)
    return groups


def summarize(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """llm-jp-eval's scores over a run: each category the mean of its datasets' standing metrics,
    AVG the mean over the averaged categories with a missing one counting 0; what was missing and
    why is listed. None when the run had no Jaster dataset. The datasets' protocol (jeval's own
    or llm-jp-eval's text, the variant, the prompt source) is the summary's; several in one run
    are an error, found when the run is planned (see jeval.planning.check_suites)."""
    ran = {name: t for name, t in tasks.items()
           if name in BY_NAME and base_protocol(str(t.get("protocol", ""))).split("/")[0] in PROTOCOLS}
    if not ran:
        return None
    protocols = {t["protocol"] for t in ran.values()}
    bases = sorted({base_protocol(p) for p in protocols})
    if len(bases) > 1:
        raise JevalError(f"Jaster results under several protocols cannot be averaged together: {', '.join(bases)}")
    categories: dict[str, float | None] = {}
    categories_stderr: dict[str, float | None] = {}
    missing: dict[str, str] = {}
    for category in (*AVERAGED, *REPORTED_ONLY):
        values = []
        errors = []
        for m in (m for m in MEMBERS if m.category == category):
            task = ran.get(m.name)
            if task is None:
                missing[m.name] = OPT_IN.get(m.name, "not in this run")
                continue
            value = finite(task["metrics"].get(m.metric))
            if value is not None:
                values.append(value / SCALE.get(m.metric, 1.0))
                error = finite(task["metrics"].get(stderr_key(m.metric)))
                errors.append(None if error is None else error / SCALE.get(m.metric, 1.0))
            else:
                reason = task["metrics"].get("unavailable", {}).get(m.metric, "no score")
                missing[m.name] = f"{m.metric} unavailable: {reason}"
        categories[category] = mean(values) if values else None
        categories_stderr[category] = unweighted_mean_stderr(errors) if values else None
    averaged = [value if (value := categories[c]) is not None else 0.0 for c in AVERAGED]
    averaged_stderr = [categories_stderr[c] if categories[c] is not None else 0.0 for c in AVERAGED]
    return {
        "protocol": bases[0] + suffixes_of(protocols),
        "AVG": mean(averaged),
        "AVG_stderr": unweighted_mean_stderr(averaged_stderr),
        "categories": categories,
        "categories_stderr": categories_stderr,
        "averaged_categories": list(AVERAGED),
        "missing_categories_count_as_zero": [c for c in AVERAGED if categories[c] is None],
        "reported_not_averaged": list(REPORTED_ONLY),
        "standing_metric": {m.name: m.metric for m in MEMBERS},
        "missing": missing,
    }


ZERO_RULE = "Jaster AVG counts a category with no score as 0, as llm-jp-eval does"
CATEGORY_ORDER = (*AVERAGED, *REPORTED_ONLY)


def columns(summary: Mapping[str, Any], tasks: Mapping[str, Mapping[str, Any]]) -> list[ColumnValue]:
    """Jaster AVG (noting the categories it counted as 0) and a column per category."""
    members = tuple(n for n in (summary.get("standing_metric") or {}) if n in tasks)
    zeroed = list(summary.get("missing_categories_count_as_zero") or [])
    notes = ((ZERO_RULE, "lacks " + ", ".join(zeroed)),) if zeroed else ()
    out = [ColumnValue("Jaster AVG", "jaster", finite(summary.get("AVG")), order=0, tasks=members, notes=notes)]
    categories = summary.get("categories", {})
    for i, category in enumerate(CATEGORY_ORDER, 1):
        if category in categories:
            out.append(ColumnValue(f"Jaster {category}", "jaster", finite(categories[category]), order=i,
                                   tasks=members))
    return out


SUITE = Suite("jaster", tuple(m.name for m in MEMBERS), summarize, columns)
