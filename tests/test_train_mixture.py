"""Mixture by tokens and curriculum stages.

Tolerance: within every stage, each source's token count is within one sequence (seq_len
tokens) of its configured share of the stage's tokens, at the end of the stage and at every
prefix of it.
"""

from __future__ import annotations

import json

import torch
from train_support import EXAMPLES, micro

from jeval.models.train.driver import train
from jeval.models.train.mixture import MixedSequences, Stage, interleave


def test_token_counts_follow_the_ratios_within_one_sequence_at_every_prefix():
    seq_len, per_step = 64, 8
    blocks = {name: torch.full((n, seq_len), i) for i, (name, n) in enumerate([("ja", 50), ("en", 7), ("code", 3)])}
    stages = [Stage("general", 25, {"ja": 0.6, "en": 0.3, "code": 0.1}), Stage("quality", 10, {"ja": 0.85, "en": 0.15})]
    data = MixedSequences(blocks, stages, per_step, seed=3)
    assert len(data) == 35 * per_step
    start = 0
    for stage in stages:
        n = stage.steps * per_step
        tokens = dict.fromkeys(blocks, 0)
        for i in range(start, start + n):
            item = data[i]
            name = data.source_of(i)
            assert int(item["input_ids"][0]) == list(blocks).index(name), "the sequence comes from its source"
            tokens[name] += item["input_ids"].numel()
            seen = i - start + 1
            for source, share in stage.mixture.items():
                assert abs(tokens[source] - share * seen * seq_len) <= seq_len
        assert sum(tokens.values()) == n * seq_len
        assert all(tokens[s] == 0 for s in blocks if s not in stage.mixture)
        start += n


def test_a_source_smaller_than_its_share_is_repeated_in_a_new_order_each_pass():
    blocks = {"small": torch.arange(4).repeat_interleave(8).view(4, 8), "big": torch.zeros(100, 8, dtype=torch.long)}
    data = MixedSequences(blocks, [Stage("s", 12, {"small": 0.5, "big": 0.5})], 2, seed=0)
    firsts = [int(data[i]["input_ids"][0]) for i in range(len(data)) if data.source_of(i) == "small"]
    assert len(firsts) == 12
    passes = [firsts[k:k + 4] for k in range(0, 12, 4)]
    assert all(sorted(p) == [0, 1, 2, 3] for p in passes), "each pass uses every block once"
    assert len({tuple(p) for p in passes}) > 1


def test_interleave_is_exact_for_ratios_that_divide_evenly():
    assert interleave({"a": 0.75, "b": 0.25}, 8).count("b") == 2


def test_the_stage_switches_at_the_configured_step_in_a_real_run(tmp_path):
    data = EXAMPLES / "data"
    config = micro(
        {"web": {"path": str(data / "ja_web.jsonl")}, "en": {"path": str(data / "en_web.txt"), "format": "text"},
         "quality": {"path": str(data / "ja_quality.jsonl")}},
        stages=[{"name": "general", "steps": 5, "warmup_steps": 2, "mixture": {"web": 0.75, "en": 0.25}},
                {"name": "quality", "steps": 3, "warmup_steps": 2, "mixture": {"quality": 1.0}}],
    )
    summary = train(config, tmp_path / "out")
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    stage_by_step = {r["step"]: r["stage"] for r in log if "loss" in r}
    assert stage_by_step == {1: "general", 2: "general", 3: "general", 4: "general", 5: "general",
                             6: "quality", 7: "quality", 8: "quality"}
    lr = {r["step"]: r["learning_rate"] for r in log if "loss" in r}
    assert lr[6] < lr[7], "the new stage warms up again"
    assert lr[5] > lr[6]
    tokens = summary["tokens_by_source"]
    general = 5 * 4 * 64
    assert tokens == {"web": 0.75 * general, "en": 0.25 * general, "quality": 3 * 4 * 64}
