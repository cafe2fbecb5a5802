"""`jeval export lmeval RUN_DIR`: a run's results in lm-eval's aggregated `results_<date>.json` layout,
for tools that read lm-eval's output (lm-eval's own `make_table`, leaderboards, trackers).

The layout is lm-eval 0.4's (`EvalResults` in lm_eval/result_schema.py): `results` with one entry
per task and group holding `name`, `alias`, `sample_len` and `metric,filter` keys
(`exact_match,none`, `exact_match_stderr,none`), `groups` and `group_subtasks` for suites,
`versions`, `n-shot`, `higher_is_better`, `n-samples`, `config`, `git_hash`, `date` and the model's
names. jeval's metric names are kept; a metric without a filter gets lm-eval's `none`. jeval's
versions are its protocol names. A suite becomes a group whose metric is `avg` (its mean), and
each of its categories a group (`jaster_nli`, metric `mean`). What lm-eval has no field for
(fingerprint, protocols, where the run lives) is under `jeval`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_json, read_json
from jeval.schema import check_run
from jeval.stderr import RESAMPLES, is_stderr_key, stderr_key

LOWER_IS_BETTER = {"bits_per_byte", "bits_per_char", "loss", "perplexity", "out_of_label_set", "out_of_format"}
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


def sanitize_model_name(name: str) -> str:
    """lm-eval's `sanitize_model_name` (a model's folder name in its output)."""
    return re.sub(r"[\"<>:/|\\?*\[\]]+", "__", name)


def _lm_key(key: str) -> str:
    """`exact_match` -> `exact_match,none`; a key with a filter part already stays."""
    return key if "," in key else f"{key},none"


def _task_entry(name: str, task: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, bool]]:
    entry: dict[str, Any] = {"name": name, "alias": name, "sample_len": task.get("n_samples")}
    better: dict[str, bool] = {}
    metrics = task.get("metrics", {})
    for key, value in metrics.items():
        if is_stderr_key(key) or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        entry[_lm_key(key)] = value
        error = metrics.get(stderr_key(key))
        entry[_lm_key(stderr_key(key))] = error if isinstance(error, int | float) else "N/A"
        base = key.partition(",")[0]
        better[base] = base not in LOWER_IS_BETTER
    return entry, better


def _groups(results: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]], dict[str, str]]:
    """Each suite summary as lm-eval groups: the suite (`avg`), and its categories (`mean`) where
    they are groups of tasks rather than the tasks themselves."""
    tasks = results["tasks"]
    groups: dict[str, dict[str, Any]] = {}
    subtasks: dict[str, list[str]] = {}
    versions: dict[str, str] = {}
    for suite, summary in results.get("summaries", {}).items():
        standing = summary.get("standing_metric") or {}
        errors = summary.get("categories_stderr") or {}
        children: list[str] = []
        for category, value in summary.get("categories", {}).items():
            if category in tasks:
                children.append(category)
                continue
            members = [t for t in tasks if t in standing and tasks[t].get("category") == category]
            if value is None or not members:
                continue
            group = f"{suite}_{category.lower()}"
            groups[group] = {"name": group, "alias": f"{suite} {category}",
                             "sample_len": sum(int(tasks[t].get("n_samples") or 0) for t in members),
                             "mean,none": value,
                             "mean_stderr,none": errors[category] if errors.get(category) is not None else "N/A"}
            subtasks[group] = members
            versions[group] = str(summary.get("protocol", ""))
            children.append(group)
        error = summary.get("AVG_stderr")
        groups[suite] = {"name": suite, "alias": suite,
                         "sample_len": sum(int(tasks[t].get("n_samples") or 0) for t in tasks
                                           if t in standing or t in summary.get("categories", {})),
                         "avg,none": summary.get("AVG"),
                         "avg_stderr,none": error if error is not None else "N/A"}
        subtasks[suite] = children
        versions[suite] = str(summary.get("protocol", ""))
    return groups, subtasks, versions


def _date(created: str) -> datetime | None:
    try:
        return datetime.strptime(created, CREATED_FORMAT)
    except ValueError:
        return None


def _shared(values: list[Any]) -> Any:
    distinct = {repr(v) for v in values}
    return values[0] if values and len(distinct) == 1 else None


def lm_eval_results(results: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """The run's results.json (`results`) in lm-eval's aggregated-results layout."""
    tasks = results["tasks"]
    entries: dict[str, dict[str, Any]] = {}
    better: dict[str, dict[str, bool]] = {}
    for name, task in tasks.items():
        entries[name], better[name] = _task_entry(name, task)
    groups, subtasks, group_versions = _groups(results)
    for group, entry in groups.items():
        better[group] = {key.partition(",")[0]: True for key in entry if "," in key and "_stderr," not in key}
    model = results.get("model", {})
    versions = results.get("versions", {})
    created = _date(str(results.get("created", "")))
    seed = results.get("seed")
    git = versions.get("jeval_git") or {}
    name = str(model.get("name", "model"))
    return {
        "results": {**entries, **groups},
        **({"groups": groups} if groups else {}),
        "group_subtasks": {**{t: [] for t in tasks}, **subtasks},
        "configs": {t: {"task": t, "num_fewshot": task.get("shots"), "metadata": {"version": task["protocol"]},
                        "metric_list": [{"metric": m, "higher_is_better": b} for m, b in better[t].items()]}
                    for t, task in tasks.items()},
        "versions": {**{t: task["protocol"] for t, task in tasks.items()}, **group_versions},
        "n-shot": {t: task.get("shots") for t, task in tasks.items()},
        "higher_is_better": better,
        "n-samples": {t: {"original": task.get("n_samples") if task.get("limit") is None else None,
                          "effective": task.get("n_samples")} for t, task in tasks.items()},
        "config": {"model": f"jeval:{results.get('backend', {}).get('engine') or model.get('engine')}",
                   "model_args": model.get("path") or model.get("served_id") or model.get("id"),
                   "model_revision": model.get("revision"), "batch_size": None, "batch_sizes": [],
                   "device": None, "use_cache": results.get("config", {}).get("cache_path"),
                   "limit": _shared([t.get("limit") for t in tasks.values()]), "bootstrap_iters": RESAMPLES,
                   "gen_kwargs": None, "random_seed": seed, "numpy_seed": None, "torch_seed": None,
                   "fewshot_seed": None},
        "git_hash": git.get("commit"),
        "date": created.timestamp() if created is not None else None,
        "transformers_version": versions.get("transformers"),
        "lm_eval_version": versions.get("lm_eval"),
        "upper_git_hash": None,
        "model_source": "jeval",
        "model_name": name,
        "model_name_sanitized": sanitize_model_name(name),
        "total_evaluation_time_seconds": str(results.get("timings", {}).get("total_s", "")),
        "jeval": {"source": str(source), "schema": results.get("schema"), "run_id": results.get("run_id"),
                  "created": results.get("created"),
                  "jeval_version": versions.get("jeval", results.get("jeval_version")),
                  "fingerprint": model.get("fingerprint"), "identity_basis": model.get("identity_basis"),
                  "protocols": {t: task["protocol"] for t, task in tasks.items()},
                  "stderr": "jeval's: the mean's analytic error, or a bootstrap of the task's own score "
                            f"({RESAMPLES} resamples unless the task records fewer)"},
    }


def locate_results(path: Path) -> Path:
    """A run folder's results.json (or the file itself)."""
    found = path / "results.json" if path.is_dir() else path
    if not found.is_file():
        raise JevalError(f"{path}: no results.json there; give a `jeval run` run folder "
                         "(results/<model>/<run-id>) or its results.json")
    return found


def default_output(run_dir: Path, exported: Mapping[str, Any]) -> Path:
    """Where lm-eval would write it under an output folder `RUN_DIR/lm-eval`:
    `<model_name_sanitized>/results_<date>.json`, the date as lm-eval writes it."""
    date = _date(str(exported["jeval"]["created"] or ""))
    stamp = (date.replace(tzinfo=None) if date is not None else datetime.now()).isoformat().replace(":", "-")
    return run_dir / "lm-eval" / str(exported["model_name_sanitized"]) / f"results_{stamp}.json"


def export(run: Path, out: Path | None = None) -> Path:
    path = locate_results(run)
    data = read_json(path)
    if not isinstance(data, dict):
        raise JevalError(f"{path}: not a `jeval run` results file (not a JSON object)")
    problem = check_run(data)
    if problem is not None:
        raise JevalError(f"{path}: not a `jeval run` results file: {problem}")
    exported = lm_eval_results(data, path)
    target = out if out is not None else default_output(path.parent, exported)
    atomic_write_json(target, exported)
    return target


def cmd_lmeval(args: argparse.Namespace) -> int:
    print(export(args.run_dir, args.out))
    return 0


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Write a run's results in another tool's format.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    sub = parser.add_subparsers(dest="export_command", metavar="FORMAT", required=True)
    p = sub.add_parser("lmeval", help="lm-eval's aggregated results JSON (results_<date>.json)")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a `jeval run` run folder, or its results.json")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="the file to write (default: RUN_DIR/lm-eval/<model>/results_<date>.json, where lm-eval "
                        "would write it with --output_path RUN_DIR/lm-eval)")
    p.set_defaults(func=cmd_lmeval)
    return parser
