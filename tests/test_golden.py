"""Golden equality: every task family gives the same scores, summaries and samples as the core did
before its redesign, on the project's fixtures.

The golden files (tests/golden/*.json) were written by the old core, with the same scripted model
(golden_support.py: answers computed from the prompt, so that equal prompts give equal answers)
and, for perplexity, a real forward pass of a checkpoint built from a seed. A change of prompts,
answer extraction, metrics, aggregation or sample rows shows up here as a difference.

The intended differences: the protocol name (the fixtures are served from a mirror whose
checksums are the mirror's own, so a protocol whose prompt text comes from those files now says so:
`+standin-prompts`), and the data fingerprint of `lm-eval:` tasks, which the old core made of the
task names alone (lm-eval returns no `task_hashes`) and which is now made of lm-eval's hashes of
the evaluated documents (tests/golden/lm_eval_any.json holds the new values).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
from conftest import JASTER_FIXTURES, JMT_FIXTURES, SAMPLES, jeval
from golden_support import VOLATILE_SAMPLE_FIELDS, ScriptedModel, build_fixed_checkpoint
from jaster_converters_support import replace_on_mirror
from lmeval_support import make_mirror as jl_mirror
from test_jaster_mbpp import FILE as MBPP_FILE
from test_jaster_mbpp import problem

from jeval.data.download import sha256_file
from jeval.provenance import protocol_with_source
from jeval.runner import RunConfig, run
from jeval.stderr import is_stderr_key

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "jaster_default": dict(tasks=("aio", "chabsa", "commonsensemoralja", "jamp", "janli", "jcommonsenseqa",
                                  "jemhopqa", "jmmlu", "jnli", "jsem", "jsick", "jsquad", "jsts", "kuci", "mawps",
                                  "mgsm", "mmlu_en", "niilc", "wikicorpus-e-to-j", "wikicorpus-j-to-e", "xlsum_ja")),
    "jaster_1shot": dict(tasks=("jaster", "jsts", "xlsum_ja"), shots=1, limit=6),
    "jaster_0shot": dict(tasks=("jaster", "jsts", "xlsum_ja"), shots=0, limit=8),
    "jaster_every_item": dict(tasks=("jmmlu", "jcommonsenseqa"), limit=-1),
    "jaster_chat": dict(tasks=("jamp", "jsquad", "mgsm", "chabsa"), variant="chat"),
    "jaster_fewshot_turns": dict(tasks=("jamp", "jsquad", "mgsm", "chabsa"), variant="fewshot-turns", shots=2),
    "ja_leaderboard": dict(tasks=("ja_leaderboard", "jl_mgsm_variants")),
    "jmt_bench_fastchat": dict(tasks=("jmt_bench",)),
    "jmt_bench_stability": dict(tasks=("jmt_bench",), variant="stability"),
    "lm_eval_any": dict(tasks=("lm-eval:tiny_gen", "lm-eval:tiny_mc", "lm-eval:tiny_group"),
                        task_args={"lm-eval": {"include": ("lmeval-configs",)}}),
    "ppl": dict(tasks=("ppl",), task_args={"ppl": {"corpus": ("ppl/ja.jsonl", "ppl/en.txt"), "lang": ("ja", "en"),
                                                   "context_length": ("64",), "stride": ("32",)}}),
}
TASK_KEYS = ("protocol", "category", "shots", "n_samples", "limit", "metrics", "subtasks", "data_fingerprint",
             "prompt_fingerprint", "decoding")


def _folder_mirror(root: Path, *sources: Path, patterns: tuple[str, ...] = ("*",)) -> Path:
    for source in sources:
        shutil.copytree(source, root, dirs_exist_ok=True)
    checksums = {f"https://{p.relative_to(root).as_posix()}": sha256_file(p)
                 for pattern in patterns for p in root.rglob(pattern)
                 if p.is_file() and p.name not in ("jeval-mirror.json", "README.md")}
    (root / "jeval-mirror.json").write_text(json.dumps({"checksums": checksums}))
    return root


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Every family's data prepared from the fixtures, lm-eval configs and corpora beside them."""
    from test_lmeval_any import CONFIGS, ITEMS

    work = tmp_path_factory.mktemp("golden")
    data = work / "data"
    jaster = _folder_mirror(work / "jaster_mirror", SAMPLES, JASTER_FIXTURES)
    (jaster / MBPP_FILE).parent.mkdir(parents=True, exist_ok=True)
    replace_on_mirror(jaster, MBPP_FILE,
                      "".join(json.dumps(problem(i), ensure_ascii=False) + "\n" for i in range(1, 700)).encode())
    for args in (("jaster", "jsts", "xlsum_ja", "--prompts", "llm-jp-eval", "--mirror", jaster),
                 ("ja_leaderboard", "jl_mgsm_variants", "--mirror", jl_mirror(work / "jl_mirror")),
                 ("jmt_bench", "--mirror", _folder_mirror(work / "jmt_mirror", JMT_FIXTURES / "mirror",
                                                          patterns=("*.jsonl",)))):
        proc = jeval("data", "prepare", *args, "--data-dir", data)
        assert proc.returncode == 0, proc.stderr[-3000:]
    (work / "lmeval-configs").mkdir()
    shutil.copy(ITEMS, work / "items.jsonl")
    for name, text in CONFIGS.items():
        (work / "lmeval-configs" / name).write_text(text.replace("{items}", "items.jsonl"), encoding="utf-8")
    shutil.copytree(Path(__file__).parent / "fixtures" / "ppl", work / "ppl")
    build_fixed_checkpoint(work / "fixed-ckpt")
    return work


def _close(found, expected, path: str) -> None:
    """Equal, except floats computed by a forward pass (perplexity), equal to 1e-6 relative."""
    if isinstance(expected, dict):
        assert isinstance(found, dict) and set(found) == set(expected), path
        for key in expected:
            _close(found[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(found, list) and len(found) == len(expected), path
        for i, (f, e) in enumerate(zip(found, expected, strict=True)):
            _close(f, e, f"{path}[{i}]")
    elif isinstance(expected, float) and isinstance(found, float) and not (math.isnan(expected) or expected == found):
        assert found == pytest.approx(expected, rel=1e-6), path
    else:
        assert found == expected, path


@pytest.mark.parametrize("case", list(CASES))
def test_scores_and_samples_equal_the_golden_files(case, workdir, monkeypatch):
    golden = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings: dict = dict(CASES[case])
    model = None
    if case == "ppl":
        settings.update(checkpoint=workdir / "fixed-ckpt", backend="local")
    else:
        model = ScriptedModel()
    config = RunConfig(**settings, data_dir=workdir / "data", cache_path=workdir / f"{case}.sqlite",
                       output_dir=workdir / "out" / case, run_id="golden")
    path = run(config, model)
    results = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(results["tasks"]) == sorted(golden["tasks"])
    exact = _close if case == "ppl" else lambda f, e, p: (f == e) or pytest.fail(f"{p} differs")
    for name, expected in golden["tasks"].items():
        found = results["tasks"][name]
        suffixed = protocol_with_source(expected["protocol"], found["prompt_source"])
        assert found["protocol"] == suffixed, name
        for key in TASK_KEYS:
            if key != "protocol" and key in expected:
                # code_exec's `sandbox` record names this machine's bubblewrap and paths; standard
                # errors beside the scores came after the golden files (lm-eval's own are in them)
                value = {k: v for k, v in found[key].items() if k != "sandbox"
                         and (k in expected[key] or not is_stderr_key(k))} if key == "metrics" else found[key]
                exact(value, expected[key], f"{name}.{key}")
        rows = [json.loads(line) for line in (path.parent / "samples" / f"{name}.jsonl").read_text().splitlines()]
        exact([{k: v for k, v in r.items() if k not in VOLATILE_SAMPLE_FIELDS} for r in rows],
              golden["samples"][name], f"{name} samples")
    assert set(results["summaries"]) == set(golden["summaries"])
    for name, expected in golden["summaries"].items():
        found = {k: v for k, v in results["summaries"][name].items() if k not in ("AVG_stderr", "categories_stderr")}
        assert found.pop("protocol").startswith(expected.pop("protocol")), name
        assert found == expected, name
    if "answers" in golden:
        answers = [json.loads(line) for line in (path.parent / "answers" / "jmt_bench.jsonl").read_text().splitlines()]
        assert [{k: v for k, v in a.items() if k not in ("tstamp", "answer_id", "model_id")} for a in answers] \
            == golden["answers"]
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
