"""The spike guard, vocabulary extension, and SFT/DPO with LoRA on micro models."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from train_support import EXAMPLES, micro
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerControl, TrainerState

from jeval.models.train import corpus
from jeval.models.train.config import SpikeGuardConfig, from_dict
from jeval.models.train.driver import train
from jeval.models.train.pretrain import build_model
from jeval.models.train.spike import SpikeGuard
from jeval.models.train.tokenizer import train_tokenizer
from jeval.models.train.vocab import candidate_pieces, extend_vocabulary, old_piece_ids


@pytest.fixture(scope="module")
def small_model():
    tokenizer = train_tokenizer(corpus.corpus_text(0)[:600], 600)
    config = micro({"x": {"path": str(EXAMPLES / "data" / "ja_web.jsonl")}})
    return build_model(config, tokenizer), tokenizer


def step_with_loss(guard, model, step, loss):
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    guard.observe(loss)
    state = TrainerState()
    state.global_step = step
    return guard.on_pre_optimizer_step(None, state, TrainerControl(), model=model)


def test_the_spike_guard_drops_the_update_of_a_spiking_step_and_logs_it(small_model, caplog):
    model, _ = small_model
    guard = SpikeGuard(SpikeGuardConfig(action="skip", factor=2.0, window=5, min_steps=3))
    for step, loss in enumerate([3.0, 2.9, 2.8, 2.7]):
        step_with_loss(guard, model, step, loss)
        assert all(p.grad is not None for p in model.parameters())
    step_with_loss(guard, model, 4, 9.0)
    assert all(p.grad is None for p in model.parameters()), "no gradient: AdamW leaves weights and moments alone"
    assert [(e.step, e.loss, e.action) for e in guard.events] == [(5, 9.0, "skip")]
    assert "loss spike at step 5" in caplog.text
    step_with_loss(guard, model, 5, 2.6)
    assert all(p.grad is not None for p in model.parameters()), "the spike did not enter the reference mean"

    rollback = SpikeGuard(SpikeGuardConfig(action="rollback", factor=2.0, window=5, min_steps=1))
    step_with_loss(rollback, model, 0, 1.0)
    control = step_with_loss(rollback, model, 1, 5.0)
    assert control.should_training_stop and rollback.rollback_at == 2


def test_vocabulary_extension_keeps_old_rows_and_starts_new_ones_at_the_mean_of_their_pieces(small_model):
    model, tokenizer = small_model
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    before = len(tokenizer)
    texts = ["東京都立図書館で新しい天体望遠鏡を見ました。"] * 50 + ["天体望遠鏡と図書館。"] * 50
    pieces = candidate_pieces(texts, 20)
    splits = {p: old_piece_ids(tokenizer, p) for p in pieces}
    added = extend_vocabulary(model, tokenizer, pieces, limit=5)
    assert 0 < len(added) <= 5 and len(tokenizer) == before + len(added)
    new_in, new_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert torch.equal(new_in[:before], old_in) and torch.equal(new_out[:before], old_out)
    for piece in added:
        row = tokenizer.convert_tokens_to_ids(piece)
        assert row >= before
        torch.testing.assert_close(new_in[row], old_in[splits[piece]].mean(0))
        torch.testing.assert_close(new_out[row], old_out[splits[piece]].mean(0))
    assert added[0] in tokenizer.tokenize(f"きのう{added[0]}へ")


def test_sft_with_lora_learns_only_assistant_turns_and_saves_a_plain_servable_model(tmp_path):
    base = tmp_path / "base"
    train(micro({"web": {"path": str(EXAMPLES / "data" / "ja_web.jsonl")}},
                stages=[{"name": "main", "steps": 2, "mixture": {"web": 1.0}}]), base)
    config = from_dict({
        "mode": "sft",
        "sources": {"chat": {"path": str(EXAMPLES / "data" / "chat.jsonl"), "format": "chat"}},
        "model": {"init": str(base)},
        "optim": {"seq_len": 128, "batch_size": 4, "lr": 1.0e-2, "max_steps": 3},
        "lora": {"r": 4, "alpha": 8},
        "log_every": 1,
    })
    summary = train(config, tmp_path / "sft")
    assert summary["mode"] == "sft" and summary["steps"] == 3
    weights = load_file(tmp_path / "sft" / "model.safetensors")
    assert not any("lora" in k for k in weights), "adapters are merged into the weights"
    before = load_file(base / "model.safetensors")
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(weights[q], before[q]), "the merged LoRA update changed the attention weights"
    assert torch.equal(weights["model.embed_tokens.weight"], before["model.embed_tokens.weight"])
    AutoModelForCausalLM.from_pretrained(tmp_path / "sft")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "sft")
    assert tokenizer.chat_template

    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from jeval.models.train.sft import completion_examples

    conversation = [{"role": "user", "content": "こんにちは。"}, {"role": "assistant", "content": "はい、どうぞ。"},
                    {"role": "user", "content": "3たす4は？"}, {"role": "assistant", "content": "7です。"}]
    examples = completion_examples([conversation])
    assert [e["completion"][0]["content"] for e in examples] == ["はい、どうぞ。", "7です。"]
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(tmp_path / "sft"),
                         args=SFTConfig(output_dir=str(tmp_path / "probe"), completion_only_loss=True, report_to=[],
                                        use_cpu=True, max_length=128),
                         train_dataset=Dataset.from_list(examples), processing_class=tokenizer)
    row = trainer.train_dataset[1]
    learnt = [t for t in row["labels"] if t != -100]
    assert tokenizer.decode(learnt, skip_special_tokens=True).strip() == "7です。"


def test_dpo_trains_on_preference_pairs(tmp_path):
    base = tmp_path / "base"
    train(micro({"web": {"path": str(EXAMPLES / "data" / "ja_web.jsonl")}},
                stages=[{"name": "main", "steps": 2, "mixture": {"web": 1.0}}]), base)
    config = from_dict({
        "mode": "dpo",
        "sources": {"prefs": {"path": str(EXAMPLES / "data" / "preference.jsonl"), "format": "preference"}},
        "model": {"init": str(base)},
        "optim": {"seq_len": 96, "batch_size": 4, "lr": 1.0e-3, "max_steps": 2},
        "log_every": 1,
    })
    summary = train(config, tmp_path / "dpo")
    assert summary["mode"] == "dpo" and summary["steps"] == 2
    log = [json.loads(line) for line in (tmp_path / "dpo" / "train_log.jsonl").read_text().splitlines()]
    assert any("rewards/chosen" in r or "loss" in r for r in log)
    AutoModelForCausalLM.from_pretrained(tmp_path / "dpo")


def test_rollback_restores_the_last_checkpoint_and_moves_the_data_past_the_spike(tmp_path):
    """A switch from Japanese to English text makes a real loss jump at step 7."""
    config = micro(
        {"ja": {"path": str(EXAMPLES / "data" / "ja_web.jsonl")},
         "en": {"path": str(EXAMPLES / "data" / "en_web.txt"), "format": "text"}},
        stages=[{"name": "ja", "steps": 6, "mixture": {"ja": 1.0}}, {"name": "en", "steps": 6, "mixture": {"en": 1.0}}],
        save_every=2, optim={"seq_len": 64, "batch_size": 4, "lr": 1.0e-2},
        spike_guard={"action": "rollback", "factor": 1.3, "window": 3, "min_steps": 3, "max_rollbacks": 2},
    )
    summary = train(config, tmp_path / "out")
    assert [(e["step"], e["action"]) for e in summary["spikes"]] == [(7, "rollback")]
    assert summary["rollbacks"] == 1 and summary["steps"] == 12
    offset = json.loads((tmp_path / "out" / "checkpoints" / "checkpoint-12" / "jeval_data_offset.json").read_text())
    assert offset == {"offset": 4}, "one step of 4 sequences skipped"
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 11, 12]


def test_with_mecab_every_learnt_piece_lies_inside_one_morpheme():
    import fugashi

    texts = corpus.corpus_text(0)[:800]
    tagger = fugashi.Tagger()
    morphemes = {w.white_space.replace(" ", "\u2581") + w.surface for text in texts for w in tagger(text)}
    inside = "\n".join(morphemes)

    def crossing(tokenizer):
        pieces = [p for p in tokenizer.get_vocab() if not p.startswith("<") and p.strip("\u2581")]
        return [p for p in pieces if p not in inside and p.strip("\u2581") not in inside]

    assert crossing(train_tokenizer(texts, 1000, mecab=True)) == []
    assert len(crossing(train_tokenizer(texts, 1000))) > 50, "without MeCab, pieces span word boundaries"


def test_a_ppl_evaluation_hook_gives_a_validation_loss_curve_per_language(tmp_path, monkeypatch):
    monkeypatch.setenv("JEVAL_HOME", str(tmp_path / "home"))
    ja_valid = tmp_path / "valid_ja.jsonl"
    ja_valid.write_text("".join(json.dumps({"text": line}, ensure_ascii=False) + "\n" for line in
                                [json.loads(r)["text"] for r in (EXAMPLES / "data" / "ja_web.jsonl").read_text(
                                    encoding="utf-8").splitlines()[:6]]), encoding="utf-8")
    en_valid = tmp_path / "valid_en.txt"
    en_valid.write_text((EXAMPLES / "data" / "en_web.txt").read_text(encoding="utf-8")[:3000], encoding="utf-8")
    config = micro(
        {"ja": {"path": str(EXAMPLES / "data" / "ja_web.jsonl")},
         "en": {"path": str(EXAMPLES / "data" / "en_web.txt"), "format": "text"}},
        stages=[{"name": "main", "steps": 20, "warmup_steps": 2, "mixture": {"ja": 0.5, "en": 0.5}}],
        save_every=10, log_every=10,
        eval={"tasks": ["ppl"], "every": 10,
              "args": ["--backend", "local", "--corpus", f"{ja_valid},{en_valid}", "--lang", "ja,en",
                       "--cache", str(tmp_path / "generations.sqlite")]},
    )
    train(config, tmp_path / "out")

    curve = [json.loads(line) for line in (tmp_path / "out" / "eval_curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve] == [10, 20]
    assert all(r["returncode"] == 0 for r in curve), curve
    for lang in ("ja", "en"):
        losses = [r["scores"][f"ppl/loss,lang={lang}"] for r in curve]
        assert losses[1] < losses[0]
