"""Learning, end to end on a CPU: the tiny preset trained on Jaster-format training data scores
higher on the matching test split than the same model untrained.

The model, optimizer and schedule are the `tiny` preset's (4-layer Llama, AdamW, cosine); what
changes is the data (the prepared JCommonsenseQA train split as the only source, rendered as
zero-shot prompt + answer), a tokenizer of 1,000 pieces (the split is too small for the preset's
4,000) and shorter sequences, so the test takes seconds. Both scores go through jeval's real
scoring path (`jeval run`, llm-jp-eval protocol, exact match). The trained checkpoint is scored by
the trainer's evaluation hook, which runs `jeval run --backend local` (in-process transformers
generation, chosen here for speed instead of `transformers serve`) as a child process on the saved
checkpoint; the untrained model (same config, same seed, same tokenizer) is scored by the same
runner in this process. The data are the project's own JCommonsenseQA-format samples (36 train
items, 30 test items, labels balanced over 0-4). A small model cannot learn the questions' content
from 36 examples; what it learns is the task's answer format (one choice number after
`### 応答:`), which an untrained model never produces, so the trained model's exact match reaches
about chance (0.2) and the untrained one stays near 0.
"""

from __future__ import annotations

import dataclasses
import json

from transformers import AutoTokenizer

from jeval.data.download import Mirror
from jeval.data.prepare import prepare_task
from jeval.demo import sample_mirror
from jeval.models.train.config import EvalConfig, SourceConfig, StageConfig, validate
from jeval.models.train.driver import train
from jeval.models.train.presets import preset
from jeval.models.train.pretrain import build_model
from jeval.models.train.runtime import save_model
from jeval.registry import load_registry
from jeval.runner import RunConfig, run

STEPS = 120


def test_training_on_jaster_train_data_raises_the_score_on_its_test_split(tmp_path, monkeypatch):
    monkeypatch.setenv("JEVAL_HOME", str(tmp_path / "home"))
    data_dir = tmp_path / "data"
    with sample_mirror() as mirror:
        prepare_task(load_registry().resolve(["jcommonsenseqa"])[0], data_dir, Mirror.open(str(mirror)))
    eval_args = ["--backend", "local", "--data-dir", str(data_dir), "--shots", "0", "--limit", "-1",
                 "--cache", str(tmp_path / "generations.sqlite")]
    tiny = preset("tiny")
    config = dataclasses.replace(
        tiny,
        sources=(SourceConfig("jaster", (data_dir / "jcommonsenseqa" / "train.json",), "jaster"),),
        stages=(StageConfig("main", STEPS, {"jaster": 1.0}, warmup_steps=10),),
        tokenizer=dataclasses.replace(tiny.tokenizer, vocab_size=1000),
        optim=dataclasses.replace(tiny.optim, seq_len=160, batch_size=8),
        save_every=STEPS, log_every=20,
        eval=EvalConfig(("jcommonsenseqa",), STEPS, tuple(eval_args)),
    )
    validate(config)
    out = tmp_path / "trained"
    summary = train(config, out)
    assert summary["final_loss"] < summary["first_loss"] / 2

    curve = [json.loads(line) for line in (out / "eval_curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve] == [STEPS]
    assert curve[0]["returncode"] == 0, curve[0]
    trained = curve[0]["scores"]["jcommonsenseqa/exact_match"]
    assert (out / "training_curves.png").stat().st_size > 1000

    untrained_dir = tmp_path / "untrained"
    tokenizer = AutoTokenizer.from_pretrained(out)
    save_model(build_model(config, tokenizer), tokenizer, untrained_dir)
    results = json.loads(run(RunConfig(
        tasks=("jcommonsenseqa",), checkpoint=untrained_dir, backend="local", shots=0, limit=-1, data_dir=data_dir,
        cache_path=tmp_path / "generations.sqlite", output_dir=tmp_path / "results")).read_text())
    untrained = results["tasks"]["jcommonsenseqa"]["metrics"]["exact_match"]

    assert trained >= 0.15
    assert trained > untrained
