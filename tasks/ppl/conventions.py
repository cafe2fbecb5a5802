"""Which tokens of a document are scored, and how they are cut into windows: jeval's own convention
(the default, protocol `jeval-ppl/1`) or lm-eval's rolling log-likelihood
(`--task-arg ppl.convention=lm-eval`, protocol `jeval-ppl/1/lm-eval-rolling`).

Both score a sequence of the prefix token (BOS, else EOS) followed by the document's tokens; every
token after the prefix is predicted once. They differ in two places:

- Tokens. jeval encodes the text without special tokens. lm-eval 0.4.13's
  `HFLM.loglikelihood_rolling` encodes it with the tokenizer's own special tokens (its default
  `add_bos_token=None`), unless the text already starts with the prefix token's text; on a
  tokenizer that adds BOS the sequence therefore starts with BOS twice and the second BOS is
  scored (predicted from the first) as a token of the document.
- Window length. jeval's `context_length` counts the tokens of a window, the last of which is only
  predicted, so a disjoint window predicts `context_length - 1` tokens. lm-eval's `max_length`
  counts the tokens the model reads (`get_rolling_token_windows` with `context_len=1`, then
  `make_disjoint_window`): its first window reads the prefix and predicts `max_length` tokens,
  each later one reads the one token before its first prediction and predicts the next
  `max_length`, and the last one reads as much context as fits. That is jeval's window plan with
  windows one token longer (`max_length + 1`, stride `max_length`). Its default `max_length` is
  read from the config (`n_positions`, `max_position_embeddings`, `n_ctx`, of `text_config` where
  there is one), else from the tokenizer's limit, else 2048.

So jeval's convention with context length C (and the default stride) scores exactly the tokens
lm-eval scores with `add_bos_token=False` and `max_length=C-1`; tests/test_ppl_lmeval.py checks
both conventions against lm-eval itself (2e-8 relative in float32; lm-eval takes its log-softmax in
the model's dtype, jeval in float32, so a bfloat16 model differs at bfloat16 rounding).

A window (jeval.models.model.Window) holds its last, only-predicted token too, so an lm-eval
window of `max_length` tokens read is `max_length + 1` tokens long, and the scorers are given
all of them: at lm-eval's default length that is one position past the model's configured
maximum. Models with rotary positions score it as lm-eval does (the extra token comes after
every logit used); a model with learned absolute positions, or a server that checks prompt
lengths, needs a context length below its maximum.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from jeval.errors import JevalError
from jeval.models.model import context_limit
from jeval.tasks.ppl.windows import Span, check_stride, plan_windows

LM_EVAL_VERSION = "0.4.13"
LM_EVAL_LENGTH_FIELDS = ("n_positions", "max_position_embeddings", "n_ctx")
LM_EVAL_DEFAULT_MAX_LENGTH = 2048
TOKENIZER_INFINITY = 1000000000000000019884624838656
"""transformers' `model_max_length` for a tokenizer that sets none (int(1e30)); lm-eval ignores it."""


def prefix_token(tokenizer: Any) -> int:
    for token in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token is not None:
            return token
    raise JevalError("the tokenizer has neither a BOS nor an EOS token to start each document with")


class Convention(ABC):
    name: str
    protocol_suffix: str

    @abstractmethod
    def document_ids(self, tokenizer: Any, text: str) -> list[int]:
        """The prefix token, then the document's tokens."""

    @abstractmethod
    def default_length(self, config: Any, tokenizer: Any) -> int | None:
        """The context length used when none is given (None: the model does not say)."""

    @abstractmethod
    def check(self, length: int | None, stride: int | None) -> None:
        """A clear error for settings that cannot apply, before the model's own length is known."""

    @abstractmethod
    def stride(self, length: int, asked: int | None) -> int:
        """Tokens predicted per window after the first; a clear error where `asked` cannot apply."""

    @abstractmethod
    def windows(self, n_tokens: int, length: int, stride: int) -> list[Span]:
        """The windows over a document of `n_tokens` (prefix included)."""

    @abstractmethod
    def describe(self, length: int, stride: int) -> str:
        """What the scores equal, for results.json."""


class JevalConvention(Convention):
    name = "jeval"
    protocol_suffix = ""

    def document_ids(self, tokenizer: Any, text: str) -> list[int]:
        return [prefix_token(tokenizer), *tokenizer(text, add_special_tokens=False).input_ids]

    def default_length(self, config: Any, tokenizer: Any) -> int | None:
        found = context_limit(config, tokenizer)
        return None if found is None else found[0]

    def check(self, length: int | None, stride: int | None) -> None:
        if stride is not None and length is not None:
            check_stride(stride, length)
        elif stride is not None and stride < 1:
            raise JevalError(f"--stride must be 1 or more, got {stride}")

    def stride(self, length: int, asked: int | None) -> int:
        step = length - 1 if asked is None else asked
        check_stride(step, length)
        return step

    def windows(self, n_tokens: int, length: int, stride: int) -> list[Span]:
        return plan_windows(n_tokens, length, stride)

    def describe(self, length: int, stride: int) -> str:
        what = (f"jeval's: the prefix token (BOS, else EOS) then the text's tokens without special tokens; windows of "
                f"{length} tokens moving {stride} at a time")
        if stride == length - 1:
            what += (f"; equal to lm-eval {LM_EVAL_VERSION} HFLM.loglikelihood_rolling with add_bos_token=False "
                     f"and max_length={length - 1}")
        return what


class LmEvalConvention(Convention):
    name = "lm-eval"
    protocol_suffix = "/lm-eval-rolling"

    def document_ids(self, tokenizer: Any, text: str) -> list[int]:
        prefix = prefix_token(tokenizer)
        starts_with_prefix = text.startswith(tokenizer.decode(prefix))
        special = {"add_special_tokens": False} if starts_with_prefix else {}
        return [prefix, *tokenizer.encode(text, **special)]

    def default_length(self, config: Any, tokenizer: Any) -> int | None:
        settings = getattr(config, "text_config", None) or config
        for field in LM_EVAL_LENGTH_FIELDS:
            value = getattr(settings, field, None)
            if value is not None:
                return int(value)
        limit = getattr(tokenizer, "model_max_length", None)
        if limit is not None and limit != TOKENIZER_INFINITY:
            return int(limit)
        return LM_EVAL_DEFAULT_MAX_LENGTH

    def check(self, length: int | None, stride: int | None) -> None:
        if stride is not None:
            raise JevalError("ppl.stride does not apply to the lm-eval convention: lm-eval's rolling windows each "
                             "predict up to context_length tokens after one token of context; drop the stride or "
                             "use ppl.convention=jeval")

    def stride(self, length: int, asked: int | None) -> int:
        self.check(length, asked)
        if length < 1:
            raise JevalError(f"a context of {length} tokens cannot score anything; give a max length of 1 or more")
        return length

    def windows(self, n_tokens: int, length: int, stride: int) -> list[Span]:
        return plan_windows(n_tokens, length + 1, length)

    def describe(self, length: int, stride: int) -> str:
        return (f"lm-eval {LM_EVAL_VERSION} HFLM.loglikelihood_rolling with its defaults (add_bos_token unset: the "
                f"tokenizer's own special tokens, so BOS twice where it adds BOS), max_length={length}")


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (JevalConvention(), LmEvalConvention())}
DEFAULT = CONVENTIONS["jeval"]


def convention_name(name: str) -> str:
    """Parses `ppl.convention`: jeval (default) or lm-eval."""
    if name not in CONVENTIONS:
        raise ValueError(f"must be {' or '.join(CONVENTIONS)}, got {name!r}")
    return name
