"""The japanese_leaderboard tasks as jeval task plugins: their upstream files, how each split is
built, and which lm-eval config (`lm_eval_tasks/<name>.yaml`) evaluates them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeval.io import atomic_write_jsonl
from jeval.source_status import GITHUB_PINNED, GITHUB_UNPINNED, NOT_CHECKED, SourceStatus
from jeval.task import Capability, Harness, HarnessTask, Source, TaskSpec
from jeval.tasks.japanese_leaderboard import convert
from jeval.tasks.japanese_leaderboard.version import lm_eval_version

JGLUE = "https://raw.githubusercontent.com/yahoojapan/JGLUE"
JGLUE_COMMIT = "c35b43c73056f6898837de0dcc5ba11cc7dc3ecc"
JGLUE_LICENSE = "CC BY-SA 4.0"
MGSM = "https://raw.githubusercontent.com/google-research/url-nlp/452a21ad3dae5668c06ceeac21ff073e1e40f9be/mgsm"
XLSUM = "https://huggingface.co/datasets/mkshing/xlsum_ja/resolve/62c56e7d898c93e8d94390abc80660eed64ea39a/data"
JAQKET = "https://huggingface.co/datasets/kumapo/JAQKET/resolve/main"
XWINOGRAD = "https://huggingface.co/datasets/Muennighoff/xwinograd/resolve/main/data/jp"

MARC_HINT = (
    "MARC-ja is no longer distributed: JGLUE builds it from the Multilingual Amazon Reviews Corpus, which "
    "Amazon withdrew. If you hold that corpus, run JGLUE's preprocess/marc-ja script and give its output with "
    "--mirror DIR, laid out as DIR/raw.githubusercontent.com/yahoojapan/JGLUE/"
    f"{JGLUE_COMMIT}/datasets/marc_ja-v1.1/{{train,valid}}-v1.1.json"
)
MARC_STATUS = SourceStatus(
    "dead", "not checked", "JGLUE does not distribute MARC-ja, and its README says the Multilingual Amazon Reviews "
    "Corpus it is built from is no longer available")
MGSM_EXEMPLARS_STATUS = SourceStatus(
    "available", "open", "a public GitHub repository at a pinned commit; the same file is pinned by checksum for the "
    "mgsm task (jeval.tasks.jaster.mgsm)")

SOURCES = {
    "jcqa_train": Source(f"{JGLUE}/v1.1.0/datasets/jcommonsenseqa-v1.1/train-v1.1.json",
                         "9b55fae5ecb3aedd6f8ce5bc09196c3b629864668ec6c18eee4d65c0aa48229e", JGLUE_LICENSE,
                         status=GITHUB_PINNED),
    "jcqa_valid": Source(f"{JGLUE}/v1.1.0/datasets/jcommonsenseqa-v1.1/valid-v1.1.json",
                         "0d8d76f3bfa0d174866939882faccdd01fbc2bcd5a76c43748ba0c40a7b3b8d4", JGLUE_LICENSE,
                         status=GITHUB_PINNED),
    "jnli_train": Source(f"{JGLUE}/{JGLUE_COMMIT}/datasets/jnli-v1.1/train-v1.1.json", "", JGLUE_LICENSE,
                         status=GITHUB_UNPINNED),
    "jnli_valid": Source(f"{JGLUE}/{JGLUE_COMMIT}/datasets/jnli-v1.1/valid-v1.1.json",
                         "39a41d5a112cc6c5baafa7d2464e579843e904a4b7206a4e905517a257f6459c", JGLUE_LICENSE,
                         status=GITHUB_PINNED),
    "marc_train": Source(f"{JGLUE}/{JGLUE_COMMIT}/datasets/marc_ja-v1.1/train-v1.1.json", "",
                         "Amazon MARC terms (user-supplied)", unavailable=MARC_HINT, status=MARC_STATUS),
    "marc_valid": Source(f"{JGLUE}/{JGLUE_COMMIT}/datasets/marc_ja-v1.1/valid-v1.1.json", "",
                         "Amazon MARC terms (user-supplied)", unavailable=MARC_HINT, status=MARC_STATUS),
    "jsquad_train": Source(f"{JGLUE}/v1.1.0/datasets/jsquad-v1.1/train-v1.1.json", "", JGLUE_LICENSE,
                           status=GITHUB_UNPINNED),
    "jsquad_valid": Source(f"{JGLUE}/v1.1.0/datasets/jsquad-v1.1/valid-v1.1.json",
                           "fb0a57a35281ff03bbe7f0e878cff5b577985fbe6fcb242e7e8ddb63d1c0ab11", JGLUE_LICENSE,
                           status=GITHUB_PINNED),
    "jaqket_train": Source(f"{JAQKET}/train_jaqket_59.350.json", "", "CC BY-SA 4.0", status=NOT_CHECKED),
    "jaqket_valid": Source(f"{JAQKET}/dev_jaqket_59.350.json", "", "CC BY-SA 4.0", status=NOT_CHECKED),
    "xlsum_train": Source(f"{XLSUM}/train.csv", "", "CC BY-NC-SA 4.0", status=NOT_CHECKED),
    "xlsum_validation": Source(f"{XLSUM}/validation.csv", "", "CC BY-NC-SA 4.0", status=NOT_CHECKED),
    "xlsum_test": Source(f"{XLSUM}/test.csv", "", "CC BY-NC-SA 4.0", status=NOT_CHECKED),
    "mgsm_test": Source(f"{MGSM}/mgsm_ja.tsv", "59a2b50debe77981fd784cb3b2bef1505e3abf2a37116dc9d7a366ab029b4637",
                        "CC BY 4.0", status=GITHUB_PINNED),
    "mgsm_exemplars": Source(f"{MGSM}/exemplars.py", "", "CC BY 4.0", defines_prompt=True,
                             status=MGSM_EXEMPLARS_STATUS),
    "xwinograd_test": Source(f"{XWINOGRAD}/test.jsonl", "", "CC BY 4.0", status=NOT_CHECKED),
}

Split = tuple[str, Callable[[Path], list[dict[str, Any]]]]


# Each task's leaderboard column: task name -> (group, label).
COLUMNS = {
    "jl_jcommonsenseqa": ("jglue", "JCommonsenseQA"),
    "jl_jnli": ("jglue", "JNLI"),
    "jl_marc_ja": ("jglue", "MARC-ja"),
    "jl_jsquad": ("jglue", "JSQuAD"),
    "jl_mgsm": ("mgsm", "MGSM"),
    "jl_mgsm_direct": ("mgsm", "MGSM direct"),
    "jl_mgsm_native_cot": ("mgsm", "MGSM native CoT"),
    "jl_xlsum": ("xlsum", "XL-Sum"),
    "jl_jaqket_v2": ("ja_leaderboard", "JAQKET v2"),
    "jl_xwinograd": ("ja_leaderboard", "XWinograd"),
}


@dataclass(frozen=True)
class LmEvalTask(HarnessTask):
    """A task evaluated by lm-eval through jeval's runner, on files jeval prepares.

    `splits` maps each prepared split to the source it is built from and its converter;
    `primary` is the lm-eval metric key reported first (and used in summaries)."""

    name: str
    category: str
    default_shots: int
    splits: dict[str, Split]
    primary: str
    loglikelihood: bool
    family: str = "japanese_leaderboard"
    number_answer_filter: str | None = None
    """For tasks whose answer is a number: the lm-eval filter of the strict reading, whose samples
    get answer-format diagnostics (diagnostics.py)."""
    applies_gen_kwargs = True

    @property
    def spec(self) -> TaskSpec:
        group, label = COLUMNS[self.name]
        needs: frozenset[Capability] = frozenset({"generate", "loglikelihood"} if self.loglikelihood else {"generate"})
        return TaskSpec(self.name, self.category, f"lm-eval-{lm_eval_version()}/{self.family}", "japanese_leaderboard",
                        default_shots=self.default_shots, needs=needs, primary_metric=self.primary, label=label,
                        column_group=group, column_order=list(COLUMNS).index(self.name))

    @property
    def harness(self) -> Harness:
        from jeval.tasks.japanese_leaderboard.evaluate import HARNESS

        return HARNESS

    def sources(self) -> tuple[Source, ...]:
        return tuple(dict.fromkeys(SOURCES[key] for key, _ in self.splits.values()))

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        for split, (key, read) in self.splits.items():
            atomic_write_jsonl(out_dir / f"{split}.jsonl", read(files[SOURCES[key].url]))


def _mgsm(name: str, shots: int, primary: str, family: str) -> LmEvalTask:
    strict = {"japanese_leaderboard": "none", "mgsm_direct": "remove_whitespace"}.get(family, "strict-match")
    return LmEvalTask(name, "MR", shots, {"train": ("mgsm_exemplars", convert.mgsm_exemplars),
                                          "test": ("mgsm_test", convert.mgsm_test)}, primary, False, family,
                      number_answer_filter=strict)


TASKS = (
    LmEvalTask("jl_jcommonsenseqa", "MC", 3, {"train": ("jcqa_train", convert.jcommonsenseqa),
                                              "validation": ("jcqa_valid", convert.jcommonsenseqa)}, "acc,none", True),
    LmEvalTask("jl_jnli", "NLI", 3, {"train": ("jnli_train", convert.jnli),
                                     "validation": ("jnli_valid", convert.jnli)}, "acc,none", True),
    LmEvalTask("jl_marc_ja", "EL", 3, {"train": ("marc_train", convert.marc_ja),
                                       "validation": ("marc_valid", convert.marc_ja)}, "acc,none", True),
    LmEvalTask("jl_jsquad", "RC", 2, {"train": ("jsquad_train", convert.jsquad),
                                      "validation": ("jsquad_valid", convert.jsquad)},
               "exact_match,whitespaces", False),
    LmEvalTask("jl_jaqket_v2", "QA", 1, {"train": ("jaqket_train", convert.jaqket_v2),
                                         "validation": ("jaqket_valid", convert.jaqket_v2)},
               "exact_match,whitespaces", False),
    LmEvalTask("jl_xlsum", "SUM", 1, {"train": ("xlsum_train", convert.xlsum),
                                      "validation": ("xlsum_validation", convert.xlsum),
                                      "test": ("xlsum_test", convert.xlsum)}, "rouge2,whitespaces", False),
    _mgsm("jl_mgsm", 5, "acc,none", "japanese_leaderboard"),
    _mgsm("jl_mgsm_direct", 0, "exact_match,flexible-extract", "mgsm_direct"),
    _mgsm("jl_mgsm_native_cot", 0, "exact_match,flexible-extract", "mgsm_cot_native"),
    LmEvalTask("jl_xwinograd", "MC", 0, {"test": ("xwinograd_test", convert.xwinograd)}, "acc,none", True),
)

JGLUE_TASKS = ("jl_jcommonsenseqa", "jl_jnli", "jl_marc_ja", "jl_jsquad")
LEADERBOARD_TASKS = ("jl_jaqket_v2", "jl_jcommonsenseqa", "jl_jnli", "jl_jsquad", "jl_marc_ja", "jl_mgsm",
                     "jl_xlsum", "jl_xwinograd")
