"""The Jaster protocol (llm-jp-eval v1.4.1): prompt assembly byte for byte, the instruction and
frame read from llm-jp-eval's own source, answer extraction, item limits, llm-jp-eval's own
preprocessed files, and the category/AVG summary."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import error_lines, jeval

from jeval.errors import JevalError
from jeval.planning import item_limit
from jeval.registry import load_registry
from jeval.task import TaskInputs
from jeval.tasks.jaster.protocol import Example, JasterTask, build_prompt, extract_answer
from jeval.tasks.jaster.suite import summarize
from jeval.tasks.jaster.upstream import read_output_info, read_prompt_header

HEADER = "以下は、タスクを説明する指示です。"
INSTRUCTION = "正しい番号を答えてください。"


def test_zero_shot_prompt_byte_for_byte():
    prompt = build_prompt(HEADER, INSTRUCTION, [], "質問：空の色は？")
    assert prompt == (
        "以下は、タスクを説明する指示です。\n"
        "\n"
        "### 指示:\n"
        "正しい番号を答えてください。\n"
        "\n"
        "### 入力:\n"
        "質問：空の色は？\n"
        "\n"
        "### 応答:\n"
    )


def test_four_shot_prompt_byte_for_byte():
    shots = [Example("質問：一", "1"), Example("質問：二", "2"), Example("質問：三", "3"), Example("質問：四", "4")]
    prompt = build_prompt(HEADER, INSTRUCTION, shots, "質問：五")
    assert prompt == (
        "以下は、タスクを説明する指示です。\n\n### 指示:\n正しい番号を答えてください。"
        "\n\n### 入力:\n質問：一\n\n### 応答:\n1"
        "\n\n### 入力:\n質問：二\n\n### 応答:\n2"
        "\n\n### 入力:\n質問：三\n\n### 応答:\n3"
        "\n\n### 入力:\n質問：四\n\n### 応答:\n4"
        "\n\n### 入力:\n質問：五\n\n### 応答:\n"
    )


@pytest.mark.parametrize("output, answer", [
    ("2\n\n### 入力:\n次の問題", "2"),
    ("  ２ \n\n続き", "2"),
    ("entailment\nneutral\n\nさらに", "entailment\nneutral"),
    ("", ""),
    ("\n\n2", ""),
    ("ｅｎｔａｉｌｍｅｎｔ", "entailment"),
])
def test_answer_is_the_text_before_the_first_blank_line_nfkc_stripped(output, answer):
    assert extract_answer(output) == answer


PROCESSOR = textwrap.dedent('''
    from llm_jp_eval.jaster.base import BaseDatasetProcessor

    class SharedBase(BaseDatasetProcessor):
        def __init__(self, dataset_dir, version_name):
            super().__init__(dataset_dir, version_name)
            self.output_info.output_length = 7
            self.output_info.metrics = ["exact_match", "char_f1"]

    class FirstProcessor(SharedBase):
        data_name = "first"

        def __init__(self, dataset_dir, version_name):
            super().__init__(dataset_dir, version_name)
            self.output_info.instruction = (
                "一行目。"
                "二行目。\\n"
            ) + "三行目。"

    class SecondProcessor(BaseDatasetProcessor):
        data_name: str = "second"

        def __init__(self, dataset_dir, version_name):
            self.output_info.instruction = make_instruction()
            self.output_info.output_length = 3
            self.output_info.metrics = ["exact_match"]
''')


def test_instruction_length_and_metrics_are_read_from_the_processor_never_run(tmp_path):
    path = tmp_path / "proc.py"
    path.write_text(PROCESSOR, encoding="utf-8")
    info = read_output_info(path, "first")
    assert info.instruction == "一行目。二行目。\n三行目。"
    assert (info.output_length, info.metrics) == (7, ("exact_match", "char_f1"))
    with pytest.raises(JevalError, match="expected a literal value"):
        read_output_info(path, "second")
    with pytest.raises(JevalError, match="no dataset processor with data_name = 'third'"):
        read_output_info(path, "third")


def test_broken_processor_file_is_a_clear_error(tmp_path):
    path = tmp_path / "proc.py"
    path.write_text("class Broken(:\n", encoding="utf-8")
    with pytest.raises(JevalError, match="not a readable Python source"):
        read_output_info(path, "x")


def test_prompt_header_is_read_from_the_frame_string(tmp_path):
    path = tmp_path / "utils.py"
    path.write_text(textwrap.dedent('''
        def get_evaluation_prompt(instruction, few_shots):
            message = f"前置きの文。\\n\\n### 指示:\\n{instruction}"
            return message
    '''), encoding="utf-8")
    assert read_prompt_header(path) == "前置きの文。"
    path.write_text("X = 1\n", encoding="utf-8")
    with pytest.raises(JevalError, match="no prompt frame"):
        read_prompt_header(path)


def test_item_limit_follows_llm_jp_eval_max_num_samples():
    jnli = load_registry().tasks["jnli"]
    assert item_limit(jnli, None) == 100
    assert item_limit(jnli, 5) == 5
    assert item_limit(jnli, -1) is None


def _task(metrics: dict, protocol: str = "llm-jp-eval-1.4.1") -> dict:
    return {"protocol": protocol, "metrics": metrics}


def test_summary_averages_categories_and_counts_missing_ones_as_zero():
    tasks = {
        "jnli": _task({"exact_match": 0.5}),
        "jamp": _task({"exact_match": 0.3}),
        "jsquad": _task({"char_f1": 0.8}),
        "jcommonsenseqa": _task({"exact_match": 0.9}),
        "alt-e-to-j": _task({"bleu_ja": 10.0, "comet_wmt22": None,
                             "unavailable": {"comet_wmt22": "no COMET model"}}),
        "jsts": _task({"pearson": 0.7, "spearman": 0.6}),
        "other": _task({"exact_match": 1.0}, protocol="something-else"),
    }
    summary = summarize(tasks)
    assert summary["categories"]["NLI"] == pytest.approx(0.4)
    assert summary["categories"]["RC"] == pytest.approx(0.8)
    assert summary["categories"]["MC"] == pytest.approx(0.9)
    assert summary["categories"]["MT"] is None
    assert summary["categories"]["STS"] == pytest.approx(0.7)
    assert summary["AVG"] == pytest.approx((0.4 + 0.8 + 0.9) / 11)
    assert "STS" not in summary["averaged_categories"]
    assert "MT" in summary["missing_categories_count_as_zero"]
    assert summary["missing"]["alt-e-to-j"] == "comet_wmt22 unavailable: no COMET model"
    assert summary["missing"]["xlsum_ja"].startswith("XL-Sum is licensed CC BY-NC-SA")
    assert summarize({"other": tasks["other"]}) is None


def test_the_jaster_group_is_the_averaged_set_without_opt_in_datasets():
    groups = load_registry().groups
    assert "xlsum_ja" not in groups["jaster"] and "jsts" not in groups["jaster"]
    assert len(groups["jaster"]) == 27
    assert groups["jaster_sum"] == ("xlsum_ja",)


def _evaluation_file(instruction: str, samples: list[tuple[str, str]]) -> dict:
    return {"instruction": instruction, "output_length": 3, "metrics": ["exact_match"], "few_shots": [],
            "samples": [{"input": i, "output": o} for i, o in samples]}


def _llm_jp_eval_dir(root: Path, name: str) -> Path:
    base = root / "1.4.1" / "evaluation"
    for split, n in (("train", 6), ("dev", 2), ("test", 3)):
        (base / split).mkdir(parents=True, exist_ok=True)
        data = _evaluation_file("関係を答えてください。",
                                [(f"前提：{split}{i}\n仮説：文", "neutral") for i in range(n)])
        (base / split / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")
    return root


def test_llm_jp_eval_preprocessed_files_are_taken_as_they_are(sample_mirror, tmp_path):
    jaster_dir = _llm_jp_eval_dir(tmp_path / "llm-jp-eval-data", "jnli")
    data_dir = tmp_path / "data"
    proc = jeval("data", "prepare", "jnli", "--jaster-dir", jaster_dir, "--mirror", sample_mirror[1],
                 "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    for split in ("train", "dev", "test"):
        original = jaster_dir / "1.4.1" / "evaluation" / split / "jnli.json"
        assert (data_dir / "jnli" / f"{split}.json").read_bytes() == original.read_bytes()
    manifest = json.loads((data_dir / "jnli" / "manifest.json").read_text())
    assert manifest["preprocessed_from"] == str(jaster_dir)
    task = load_registry().tasks["jnli"]
    built = task.requests(TaskInputs(data_dir / "jnli", 4, None))
    frame = json.loads((data_dir / "jnli" / "frame.json").read_text())["header"]
    assert built.requests[0].prompt.startswith(f"{frame}\n\n### 指示:\n関係を答えてください。"
                                               "\n\n### 入力:\n前提：train0")
    assert built.requests[0].prompt.endswith("### 入力:\n前提：test0\n仮説：文\n\n### 応答:\n")
    assert built.requests[0].max_tokens == 3 and built.requests[0].stop == ("\n\n",)


def test_preprocessed_dir_without_the_dataset_names_it(sample_mirror, tmp_path):
    jaster_dir = _llm_jp_eval_dir(tmp_path / "d", "jnli")
    proc = jeval("data", "prepare", "jamp", "--jaster-dir", jaster_dir, "--mirror", sample_mirror[1],
                 "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    assert "did not produce jamp" in error_lines(proc)[-1]
    proc = jeval("data", "prepare", "jnli", "--jaster-dir", tmp_path / "nowhere", "--data-dir", tmp_path / "data")
    assert proc.returncode == 2 and "no test/ folder" in error_lines(proc)[0]


def test_malformed_preprocessed_file_is_reported_and_nothing_is_replaced(sample_mirror, tmp_path):
    jaster_dir = _llm_jp_eval_dir(tmp_path / "d", "jnli")
    data_dir = tmp_path / "data"
    assert jeval("data", "prepare", "jnli", "--jaster-dir", jaster_dir, "--mirror", sample_mirror[1],
                 "--data-dir", data_dir).returncode == 0
    before = (data_dir / "jnli" / "test.json").read_bytes()
    broken = jaster_dir / "1.4.1" / "evaluation" / "test" / "jnli.json"
    broken.write_text('{"instruction": "x", "output_length": 3, "metrics": ["exact_match"], "samples": [{"input": 1}]}')
    proc = jeval("data", "prepare", "jnli", "--jaster-dir", jaster_dir, "--mirror", sample_mirror[1],
                 "--data-dir", data_dir)
    assert proc.returncode == 2
    assert "sample 0 needs string 'input' and 'output'" in error_lines(proc)[-1]
    assert (data_dir / "jnli" / "test.json").read_bytes() == before


def test_dataset_without_converter_says_how_to_prepare_it(tmp_path):
    """Every suite dataset has a converter now; one declared without says to use --jaster-dir."""
    task = JasterTask(name="some_dataset", category="FA", module="some_module")
    assert task.sources() == ()
    with pytest.raises(JevalError, match="--jaster-dir") as caught:
        task.convert({}, tmp_path)
    assert "some_dataset" in str(caught.value)


def test_chat_variants_are_their_own_protocols(prepared):
    task = load_registry().tasks["jcommonsenseqa"]
    plain = task.requests(TaskInputs(prepared / "jcommonsenseqa", 4, None))
    chat = task.requests(TaskInputs(prepared / "jcommonsenseqa", 4, None, "chat"))
    turns = task.requests(TaskInputs(prepared / "jcommonsenseqa", 4, None, "fewshot-turns"))
    assert plain.protocol == "jeval-jaster-1" and not plain.requests[0].is_chat
    assert chat.protocol == "jeval-jaster-1/chat"
    assert chat.requests[0].messages == ({"role": "user", "content": plain.requests[0].prompt},)
    assert turns.protocol == "jeval-jaster-1/fewshot-turns"
    messages = turns.requests[0].messages
    assert [m["role"] for m in messages] == ["user", "assistant"] * 4 + ["user"]
    train = json.loads((prepared / "jcommonsenseqa" / "train.json").read_text())["samples"]
    header = json.loads((prepared / "jcommonsenseqa" / "frame.json").read_text())["header"]
    test = json.loads((prepared / "jcommonsenseqa" / "test.json").read_text())
    assert messages[0]["content"] == f"{header}\n\n### 指示:\n{test['instruction']}\n\n### 入力:\n{train[0]['input']}"
    assert messages[1]["content"] == train[0]["output"]
    assert messages[2]["content"] == f"### 入力:\n{train[1]['input']}"
    assert messages[-1]["content"] == f"### 入力:\n{test['samples'][0]['input']}"
    assert len({plain.prompt_fingerprint, chat.prompt_fingerprint, turns.prompt_fingerprint}) == 3
    with pytest.raises(JevalError, match="no prompt variant 'nejumi'"):
        task.requests(TaskInputs(prepared / "jcommonsenseqa", 4, None, "nejumi"))


NLI = frozenset({"entailment", "contradiction", "neutral"})
DIGITS = frozenset({"0", "1", "2", "3", "4"})
CHOICES_INPUT = "質問：電子回路基板は？\n選択肢：0.掲示板,1.パソコン,2.マザーボード,3.ハードディスク,4.まな板"


@pytest.mark.parametrize("prediction, labels, answer", [
    ("2", DIGITS, "2"),
    ("2.マザーボード", DIGITS, "2"),
    ("「2」", DIGITS, "2"),
    ("マザーボード", DIGITS, "2"),
    ("答えは2です", DIGITS, "2"),
    ("1か2", DIGITS, "1か2"),
    ("12", DIGITS, "12"),
    ("entailment。", NLI, "entailment"),
    ("neutral です", NLI, "neutral"),
    ("仮説は前提からentailmentと言える", NLI, "entailment"),
    ("わかりません", NLI, "わかりません"),
])
def test_lenient_reading_of_answers_in_the_wrong_form(prediction, labels, answer):
    from jeval.tasks.jaster.diagnostics import lenient_answer

    assert lenient_answer(prediction, labels, CHOICES_INPUT) == answer


def test_label_sets_exist_only_for_few_short_labels():
    from jeval.tasks.jaster.diagnostics import label_set

    assert label_set(["entailment", "neutral", "entailment"]) == {"entailment", "neutral"}
    assert label_set([f"答え{i}" for i in range(30)]) is None
    assert label_set(["東京\n大阪"]) is None


def test_diagnostics_are_reported_beside_the_strict_score(prepared):
    task = load_registry().tasks["jcommonsenseqa"]
    requests = task.requests(TaskInputs(prepared / "jcommonsenseqa", 0, None)).requests[:2]
    assert requests[0].metadata["label_set"] == ["0", "1", "2", "3", "4"]
    target = requests[0].target
    strict = task.score(requests[0], f"{target}.なにか")
    assert strict["exact_match"] == 0.0 and strict["out_of_label_set"] == 1.0
    assert strict["lenient_prediction"] == target and strict["lenient_exact_match"] == 1.0
    exact = task.score(requests[1], requests[1].target)
    summary = task.aggregate([strict, exact])
    assert summary["exact_match"] == 0.5 and summary["lenient_exact_match"] == 1.0
    assert summary["out_of_label_set"] == 0.5
