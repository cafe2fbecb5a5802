"""Jaster from data files alone, and every way to get llm-jp-eval's own prompt text.

The default prompt text is jeval's own (protocol `jeval-jaster-1`): `jeval data prepare jaster`
needs no llm-jp-eval file. llm-jp-eval's text is read from its source, downloaded at the v1.4.1
tag (either layout that tag may have) or from a local checkout; both give the same prompts, byte
for byte, recorded as `llm-jp-eval-1.4.1`. The two protocols never share a suite average.

The mirrors hold the project's fixture files written in the upstream formats; their checksums
are the mirror's own, so results also carry `+standin-data`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import JASTER_FIXTURES, SAMPLES, error_lines, jeval, run_files
from test_jaster_mbpp import FILE as MBPP_FILE
from test_jaster_mbpp import problem

from jeval.data.download import sha256_file
from jeval.registry import load_registry
from jeval.task import TaskInputs
from jeval.tasks.jaster import own_text
from jeval.tasks.jaster.suite import AVERAGED, MEMBERS

LLM_JP_EVAL = Path("raw.githubusercontent.com/llm-jp/llm-jp-eval/v1.4.1/src/llm_jp_eval")
ALL = ("jaster", "jsts", "xlsum_ja")
JNLI_TRAIN = ("raw.githubusercontent.com/yahoojapan/JGLUE/c35b43c73056f6898837de0dcc5ba11cc7dc3ecc/datasets/"
              "jnli-v1.1/train-v1.1.json")


def write_checksums(root: Path) -> Path:
    checksums = {f"https://{p.relative_to(root).as_posix()}": sha256_file(p) for p in root.rglob("*")
                 if p.is_file() and p.name not in ("jeval-mirror.json", "README.md")}
    (root / "jeval-mirror.json").write_text(json.dumps({"checksums": checksums}))
    return root


def data_only_mirror(root: Path) -> Path:
    """Every Jaster dataset's data files, and no llm-jp-eval source file."""
    for source in (SAMPLES, JASTER_FIXTURES):
        shutil.copytree(source, root, dirs_exist_ok=True)
    shutil.rmtree(root / "raw.githubusercontent.com" / "llm-jp")
    (root / MBPP_FILE).parent.mkdir(parents=True, exist_ok=True)
    (root / MBPP_FILE).write_text("".join(json.dumps(problem(i), ensure_ascii=False) + "\n" for i in range(1, 700)),
                                  encoding="utf-8")
    return write_checksums(root)


def llm_jp_eval_sources() -> dict[str, bytes]:
    """The project's stand-in llm-jp-eval files (utils.py and every processor), by path under
    `src/llm_jp_eval/jaster/`."""
    found = {}
    for base in (SAMPLES, JASTER_FIXTURES):
        package = base / LLM_JP_EVAL
        found.update({p.relative_to(package).as_posix(): p.read_bytes() for p in package.rglob("*.py")})
    return found


def lay_out(package: Path, layout: str) -> None:
    """The stand-in files under `package` in one of the two layouts (`jaster/` or `datasets/`)."""
    for rel, data in llm_jp_eval_sources().items():
        target = package / (rel if rel == "utils.py" else rel.replace("jaster/", f"{layout}/", 1))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def checkout(root: Path, layout: str, version: str = "1.4.1") -> Path:
    lay_out(root / "src" / "llm_jp_eval", layout)
    (root / "pyproject.toml").write_text(f'[tool.poetry]\nname = "llm-jp-eval"\nversion = "{version}"\n')
    return root


@pytest.fixture(scope="module")
def own_data(tmp_path_factory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("own")
    mirror = data_only_mirror(work / "mirror")
    proc = jeval("data", "prepare", *ALL, "--mirror", mirror, "--data-dir", work / "data")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "data", proc.stdout


def prompts(data_dir: Path, names: tuple[str, ...], shots: int = 2) -> dict[str, list[str]]:
    registry = load_registry()
    return {name: [r.prompt for r in registry.tasks[name].requests(TaskInputs(data_dir / name, shots, None)).requests]
            for name in names}


def test_every_dataset_is_prepared_from_data_files_alone_under_the_own_protocol(own_data):
    data_dir, stdout = own_data
    lines = stdout.splitlines()
    names = [t.spec.name for t in load_registry().resolve(list(ALL))]
    assert sorted(names) == sorted(m.name for m in MEMBERS)
    assert len(lines) == len(names) + 1 and lines[-1].startswith(f"prepared {len(names)} of {len(names)} in ")
    for name, line in zip(names, lines[:-1], strict=True):
        assert line.startswith(f"{name}: prepared [jeval-jaster-1] train "), line
    for name in names:
        frame = json.loads((data_dir / name / "frame.json").read_text(encoding="utf-8"))
        test = json.loads((data_dir / name / "test.json").read_text(encoding="utf-8"))
        manifest = json.loads((data_dir / name / "manifest.json").read_text(encoding="utf-8"))
        assert frame == {"header": own_text.HEADER, "source": "jeval", "protocol": "jeval-jaster-1"}
        assert test["instruction"] == own_text.TEXTS[name].instruction
        assert manifest["protocol"] == "jeval-jaster-1" and manifest["prompt_text"] == "jeval"
        assert not any("llm-jp-eval" in s["url"] for s in manifest["sources"])


def test_a_jaster_run_gives_every_category_and_avg_under_the_own_protocol(served, own_data, tmp_path):
    data_dir, _ = own_data
    out = tmp_path / "results"
    proc = jeval("run", "--base-url", served.base_url, "--model-id", served.model_id, "--tasks", ",".join(ALL),
                 "--shots", "1", "--limit", "1", "--data-dir", data_dir, "--cache", tmp_path / "c.sqlite",
                 "--output", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(run_files(out, "results.json")[0].read_text(encoding="utf-8"))
    assert sorted(results["tasks"]) == sorted(m.name for m in MEMBERS) and "skipped" not in results
    assert {t["protocol"] for t in results["tasks"].values()} == {"jeval-jaster-1+standin-data"}
    summary = results["summaries"]["jaster"]
    assert summary["protocol"] == "jeval-jaster-1+standin-data"
    # COMET's model cannot be had offline: MT is the one category without a score, and says why.
    assert summary["missing_categories_count_as_zero"] == ["MT"]
    assert "comet_wmt22 unavailable" in summary["missing"]["alt-e-to-j"]
    assert all(summary["categories"][c] is not None for c in AVERAGED if c != "MT")
    assert summary["AVG"] == pytest.approx(sum(summary["categories"][c] or 0.0 for c in AVERAGED) / len(AVERAGED))
    columns = {c["label"]: c for c in results["columns"]}
    assert columns["Jaster AVG"]["protocol"] == "jeval-jaster-1+standin-data"
    assert re.search(r"\[jaster AVG, \d+ of 11 categories\] +jeval-jaster-1\+standin-data", proc.stdout)


@pytest.mark.parametrize("layout", ["jaster", "datasets"])
def test_a_local_llm_jp_eval_checkout_gives_its_protocol_and_the_downloads_prompts(layout, own_data, tmp_path):
    """Both layouts the v1.4.1 tag may have, read from a checkout and downloaded from a mirror."""
    names = ("jnli", "jcommonsenseqa", "wiki_ner", "alt-e-to-j")
    mirror = data_only_mirror(tmp_path / "mirror")
    lay_out(mirror / LLM_JP_EVAL, layout)
    downloaded, local = tmp_path / "downloaded", tmp_path / "local"
    proc = jeval("data", "prepare", *names, "--prompts", "llm-jp-eval", "--mirror", mirror, "--data-dir", downloaded)
    assert proc.returncode == 0, proc.stderr
    proc = jeval("data", "prepare", *names, "--llm-jp-eval-dir", checkout(tmp_path / "llm-jp-eval", layout),
                 "--mirror", mirror, "--data-dir", local)
    assert proc.returncode == 0, proc.stderr
    assert "prompt text: llm-jp-eval 1.4.1 at" in proc.stderr
    assert all(line.startswith(f"{n}: prepared [llm-jp-eval-1.4.1]") for n, line in zip(names, proc.stdout.splitlines(),
                                                                                         strict=False))
    assert prompts(local, names) == prompts(downloaded, names)
    assert prompts(local, names) != prompts(own_data[0], names)
    for name in names:
        for file in ("test.json", "train.json", "frame.json"):
            assert (local / name / file).read_bytes() == (downloaded / name / file).read_bytes(), (name, file)
        manifest = json.loads((local / name / "manifest.json").read_text(encoding="utf-8"))
        prompt_files = [s for s in manifest["sources"] if s["defines_prompt"]]
        assert {s["origin"] for s in prompt_files} == {"checkout"}
        downloaded_files = json.loads((downloaded / name / "manifest.json").read_text(encoding="utf-8"))["sources"]
        found_at = [s.get("found_at", s["url"]) for s in downloaded_files if s["defines_prompt"]]
        assert any(f"/src/llm_jp_eval/{layout}/" in url for url in found_at)


def test_a_git_checkout_with_edited_prompt_text_is_not_taken_as_llm_jp_eval(tmp_path):
    root = checkout(tmp_path / "llm-jp-eval", "jaster")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    mirror = data_only_mirror(tmp_path / "mirror")

    def origins(data: Path) -> set[str]:
        manifest = json.loads((data / "jnli" / "manifest.json").read_text(encoding="utf-8"))
        return {s["origin"] for s in manifest["sources"] if s["defines_prompt"]}

    proc = jeval("data", "prepare", "jnli", "--llm-jp-eval-dir", root, "--mirror", mirror, "--data-dir", tmp_path / "a")
    assert proc.returncode == 0 and origins(tmp_path / "a") == {"checkout"}
    processor = root / "src" / "llm_jp_eval" / "jaster" / "jnli.py"
    processor.write_text(processor.read_text(encoding="utf-8").replace("答えて", "答えなさい"), encoding="utf-8")
    proc = jeval("data", "prepare", "jnli", "--llm-jp-eval-dir", root, "--mirror", mirror, "--data-dir", tmp_path / "b")
    assert proc.returncode == 0, proc.stderr
    assert "with local changes" in proc.stderr and origins(tmp_path / "b") == {"unverified"}


def test_a_checkout_of_another_version_or_no_checkout_is_one_error_line(tmp_path):
    other = checkout(tmp_path / "old", "jaster", version="1.3.0")
    proc = jeval("data", "prepare", "jnli", "--llm-jp-eval-dir", other, "--data-dir", tmp_path / "data")
    assert error_lines(proc) == [f"jeval: error: --llm-jp-eval-dir {other} holds llm-jp-eval 1.3.0; the llm-jp-eval "
                                 "protocol jeval implements is 1.4.1 (check out tag v1.4.1)"]
    (tmp_path / "empty").mkdir()
    proc = jeval("data", "prepare", "jnli", "--llm-jp-eval-dir", tmp_path / "empty", "--data-dir", tmp_path / "data")
    assert proc.returncode == 2 and "not an llm-jp-eval checkout" in error_lines(proc)[0]


def test_missing_llm_jp_eval_text_says_it_is_prompt_text_and_how_to_supply_it(tmp_path):
    mirror = data_only_mirror(tmp_path / "mirror")
    proc = jeval("data", "prepare", "jnli", "--prompts", "llm-jp-eval", "--mirror", mirror,
                 "--data-dir", tmp_path / "data")
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert proc.returncode == 2 and not (tmp_path / "data" / "jnli").exists()
    assert "src/llm_jp_eval/jaster/jnli.py" in line and "src/llm_jp_eval/datasets/jnli.py" in line
    assert "prompt text (instructions and prompt frame), not data" in line
    for way in ("--mirror", "--llm-jp-eval-dir DIR", "--jaster-dir DIR", "jeval-jaster-1"):
        assert way in line


@pytest.fixture
def without_jnli_train(tmp_path) -> Path:
    mirror = data_only_mirror(tmp_path / "mirror")
    (mirror / JNLI_TRAIN).unlink()
    write_checksums(mirror)
    proc = jeval("data", "prepare", "jaster_nli", "--mirror", mirror, "--data-dir", tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert f"jnli: prepared [jeval-jaster-1] train 0, dev 0, test 3; lacks https://{JNLI_TRAIN}: " in proc.stdout
    return tmp_path / "data"


def test_a_dataset_without_train_runs_zero_shot_and_refuses_few_shot_in_one_line(served, without_jnli_train,
                                                                                  tmp_path):
    def run(*extra: str):
        return jeval("run", "--base-url", served.base_url, "--model-id", served.model_id, "--data-dir",
                     without_jnli_train, "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out", "--limit", "1",
                     *extra)

    proc = run("--tasks", "jnli", "--run-id", "default")
    assert proc.returncode == 0, proc.stderr
    assert "jnli: no train split was prepared, so it runs zero-shot" in proc.stderr
    results = json.loads(next((tmp_path / "out").glob("*/default/results.json")).read_text(encoding="utf-8"))
    assert results["tasks"]["jnli"]["shots"] == 0

    proc = run("--tasks", "jnli", "--shots", "2")
    assert error_lines(proc) == ["jeval: error: jnli: 2 shots asked for, but no train split was prepared "
                                 "(it runs zero-shot only)"]

    proc = run("--tasks", "jaster_nli", "--shots", "2", "--run-id", "group")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next((tmp_path / "out").glob("*/group/results.json")).read_text(encoding="utf-8"))
    assert "jnli" not in results["tasks"] and set(results["tasks"]) == {"jamp", "janli", "jsem", "jsick"}
    assert results["skipped"] == {"jnli": "jnli: 2 shots asked for, but no train split was prepared (it runs "
                                          "zero-shot only)"}
    assert results["summaries"]["jaster"]["skipped"] == results["skipped"]
    assert "skipped: jnli: jnli: 2 shots asked for" in proc.stdout

    proc = run("--tasks", "jaster_nli", "--shots", "2", "--require-all")
    assert proc.returncode == 2 and len(error_lines(proc)) == 1


def test_a_group_runs_its_prepared_members_and_lists_the_others(served, own_data, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(own_data[0] / "jamp", data_dir / "jamp")
    shutil.copytree(own_data[0] / "jsick", data_dir / "jsick")
    base = ("run", "--base-url", served.base_url, "--model-id", served.model_id, "--data-dir", data_dir,
            "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out", "--limit", "1", "--tasks", "jaster_nli")
    proc = jeval(*base)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(run_files(tmp_path / "out", "results.json")[0].read_text(encoding="utf-8"))
    assert set(results["tasks"]) == {"jamp", "jsick"}
    assert set(results["skipped"]) == {"janli", "jnli", "jsem"}
    assert "has no prepared data" in results["skipped"]["jnli"]
    proc = jeval(*base, "--require-all")
    assert error_lines(proc)[0].startswith("jeval: error: task 'janli' has no prepared data")


def test_datasets_prepared_under_different_protocols_are_never_averaged(served, own_data, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(own_data[0], data_dir)
    mirror = data_only_mirror(tmp_path / "mirror")
    lay_out(mirror / LLM_JP_EVAL, "jaster")
    write_checksums(mirror)
    proc = jeval("data", "prepare", "jamp", "--prompts", "llm-jp-eval", "--mirror", mirror, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    proc = jeval("run", "--base-url", served.base_url, "--model-id", served.model_id, "--data-dir", data_dir,
                 "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out", "--tasks", "jamp,jnli")
    [line] = error_lines(proc)
    assert "the jaster datasets of this run were prepared under different protocols" in line
    assert "jeval-jaster-1: jnli" in line and "llm-jp-eval-1.4.1: jamp" in line
    assert not (tmp_path / "out").exists()
