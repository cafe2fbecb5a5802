"""A stand-in for the `vllm` package, which needs an NVIDIA GPU and cannot be installed where the
tests run. It offers the slice of vLLM's offline API that jeval uses, under the same names and
with the same shapes: `LLM` (`generate`, `get_tokenizer`, `llm_engine.model_config`),
`SamplingParams`, and `RequestOutput` / `CompletionOutput` / `Logprob` answers, plus the
`vllm.platforms` and `vllm.distributed.parallel_state` names jeval touches. The numbers are real:
a transformers checkpoint on the CPU gives the prompt log-probabilities (one forward pass) and
generates token by token.

`VllmStyleServer` answers `/v1/completions` and `/v1/chat/completions` from the same engine the
way `vllm serve` does (the request turned into SamplingParams with the checkpoint's generation
config as defaults, the answer written in vLLM's OpenAI format, prompt log-probabilities with
`echo`), so that jeval's two ways to a vLLM engine can be compared on one engine.

What follows vLLM's source (v0.11+, the V1 engine): a prompt's first token has no log-probability;
each later position maps token ids to `Logprob(logprob, rank, decoded_token)`, the prompt's own
token first (its rank counts the tokens at least as likely) and then the top-k (ranks 1..k), a
token already present keeping one entry; generation stops at `max_tokens` or the context
("length", checked first), at EOS ("stop", EOS kept in `token_ids`, not in the text), or at a stop
string, which is cut from the text ("stop", `stop_reason` the string); the server clamps -inf to
-9999, writes each token as its text decoded alone (or `token_id:N` with
`return_tokens_as_token_ids`), and refuses with 400 a prompt whose tokens and `max_tokens` exceed
the context. Sampling follows vLLM's sampler: the repetition penalty (over the prompt's and the
output's tokens: a positive logit divided by it, any other multiplied), then the frequency and
presence penalties (over the output's tokens), all before a greedy pick; when sampling, the
temperature, then min_p (relative to the most likely token), top-k and top-p. What it leaves out,
refusing it where asked: n > 1, beam search, LoRA, multimodal inputs.
"""

from __future__ import annotations

import http.server
import importlib.machinery
import json
import sys
import threading
import types
from dataclasses import dataclass
from typing import Any

import torch
from http_support import JsonHandler

VERSION = "0.11.0+jeval.test.double"
_SAMPLING_EPS = 1e-5
_LOADED: dict[tuple[str, str], tuple[Any, Any]] = {}
"""Checkpoints already loaded, shared by every LLM built on them (one copy of the weights)."""


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: list[dict[int, Logprob] | None] | None
    outputs: list[CompletionOutput]
    finished: bool = True


class SamplingParams:
    """vLLM's sampling settings, checked as vLLM checks them (ValueError); temperature below
    1e-5 means greedy."""

    def __init__(self, n: int = 1, temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0,
                 min_p: float = 0.0, repetition_penalty: float = 1.0, presence_penalty: float = 0.0,
                 frequency_penalty: float = 0.0, seed: int | None = None, stop: str | list[str] | None = None,
                 stop_token_ids: list[int] | None = None, ignore_eos: bool = False, max_tokens: int | None = 16,
                 logprobs: int | None = None, prompt_logprobs: int | None = None, detokenize: bool = True,
                 skip_special_tokens: bool = True, include_stop_str_in_output: bool = False):
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}.")
        if temperature < 0:
            raise ValueError(f"temperature must be non-negative, got {temperature}.")
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}.")
        if not 0.0 < repetition_penalty <= 2.0:
            raise ValueError(f"repetition_penalty must be in (0, 2], got {repetition_penalty}.")
        for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
            if not -2.0 <= value <= 2.0:
                raise ValueError(f"{name} must be in [-2, 2], got {value}.")
        if top_k < -1:
            raise ValueError(f"top_k must be 0 (disable), or at least 1, got {top_k}.")
        if not 0.0 <= min_p <= 1.0:
            raise ValueError(f"min_p must be in [0, 1], got {min_p}.")
        if n != 1:
            raise NotImplementedError(f"the vLLM test double does not implement n={n}")
        self.n = n
        self.temperature = temperature
        self.top_p, self.top_k, self.min_p = (1.0, 0, 0.0) if temperature < _SAMPLING_EPS else (top_p, top_k, min_p)
        self.top_k = max(self.top_k, 0)
        self.repetition_penalty = repetition_penalty
        self.presence_penalty = presence_penalty
        self.frequency_penalty = frequency_penalty
        self.seed = seed
        self.stop = [stop] if isinstance(stop, str) else list(stop or [])
        self.stop_token_ids = list(stop_token_ids or [])
        self.ignore_eos = ignore_eos
        self.max_tokens = max_tokens
        self.logprobs = logprobs
        self.prompt_logprobs = prompt_logprobs
        self.detokenize = detokenize
        self.skip_special_tokens = skip_special_tokens
        self.include_stop_str_in_output = include_stop_str_in_output


def TokensPrompt(**fields: Any) -> dict[str, Any]:
    """vLLM's TypedDict for a prompt given as token ids (`prompt_token_ids`)."""
    return dict(fields)


class ModelConfig:
    def __init__(self, model: str, max_model_len: int, dtype: torch.dtype):
        self.model = model
        self.max_model_len = max_model_len
        self.dtype = dtype

    def get_diff_sampling_param(self) -> dict[str, Any]:
        """The checkpoint generation config's sampling fields that differ from the defaults, as
        vLLM reads them (`--generation-config auto`), `max_new_tokens` named `max_tokens`."""
        from transformers import GenerationConfig

        try:
            config = GenerationConfig.from_pretrained(self.model).to_diff_dict()
        except OSError:
            return {}
        names = ("repetition_penalty", "temperature", "top_k", "top_p", "min_p", "max_new_tokens")
        found = {name: config[name] for name in names if config.get(name) is not None}
        if "max_new_tokens" in found:
            found["max_tokens"] = found.pop("max_new_tokens")
        return found


class LLMEngine:
    def __init__(self, model_config: ModelConfig):
        self.model_config = model_config


class LLM:
    """vLLM's offline engine over a checkpoint, computing on the CPU. `batches` records the size
    of every `generate` call; clearing `proceed` holds the next call (after it sets `running`)
    until a test sets it again."""

    def __init__(self, model: str, *, tokenizer: str | None = None, dtype: str = "auto", seed: int = 0,
                 max_model_len: int | None = None, gpu_memory_utilization: float = 0.9,
                 tensor_parallel_size: int = 1, **engine_args: Any):
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        config = AutoConfig.from_pretrained(model)
        derived = config.max_position_embeddings
        if max_model_len is not None and max_model_len > derived:
            raise ValueError(f"User-specified max_model_len ({max_model_len}) is greater than the derived "
                             f"max_model_len (max_position_embeddings={derived} in model's config.json).")
        torch_dtype = getattr(torch, dtype) if dtype != "auto" else (config.dtype or torch.float32)
        key = (str(model), str(torch_dtype))
        if key not in _LOADED:
            _LOADED[key] = (AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).eval(),
                            AutoTokenizer.from_pretrained(tokenizer or model))
        self.model, self._tokenizer = _LOADED[key]
        self.llm_engine = LLMEngine(ModelConfig(str(model), max_model_len or derived, torch_dtype))
        self.seed = seed
        self.engine_args = dict(engine_args, gpu_memory_utilization=gpu_memory_utilization,
                                tensor_parallel_size=tensor_parallel_size)
        self.batches: list[int] = []
        self.running = threading.Event()
        self.proceed = threading.Event()
        self.proceed.set()
        self._lock = threading.Lock()
        self._counter = 0

    def get_tokenizer(self) -> Any:
        return self._tokenizer

    def generate(self, prompts: Any, sampling_params: Any = None, *, use_tqdm: Any = True,
                 lora_request: Any = None, priority: Any = None, tokenization_kwargs: Any = None
                 ) -> list[RequestOutput]:
        if isinstance(prompts, str | dict):
            prompts = [prompts]
        prompts = list(prompts)
        if sampling_params is None:
            sampling_params = SamplingParams()
        params = list(sampling_params) if isinstance(sampling_params, list | tuple) else [sampling_params] * len(
            prompts)
        if len(params) != len(prompts):
            raise ValueError(f"The lengths of prompts ({len(prompts)}) and sampling_params ({len(params)}) must be "
                             "the same.")
        with self._lock:
            self.running.set()
            try:
                self.proceed.wait(timeout=120)
                requests = [self._tokens(p) for p in prompts]
                limit = self.llm_engine.model_config.max_model_len
                vocabulary = self.model.config.vocab_size
                for _, ids in requests:
                    if any(not 0 <= t < vocabulary for t in ids):
                        raise ValueError(f"Token id {max(ids)} is out of vocabulary")
                    if len(ids) > limit:
                        raise ValueError(f"The decoder prompt (length {len(ids)}) is longer than the maximum model "
                                         f"length of {limit}. Make sure that `max_model_len` is no smaller than the "
                                         "number of text tokens.")
                self.batches.append(len(prompts))
                return [self._answer(text, ids, p) for (text, ids), p in zip(requests, params, strict=True)]
            finally:
                self.running.clear()

    def _tokens(self, prompt: Any) -> tuple[str | None, list[int]]:
        if isinstance(prompt, str):
            return prompt, self._tokenizer(prompt, add_special_tokens=True).input_ids
        if "prompt_token_ids" in prompt:
            return None, list(prompt["prompt_token_ids"])
        return prompt["prompt"], self._tokenizer(prompt["prompt"], add_special_tokens=True).input_ids

    def _decoded(self, token: int, params: SamplingParams) -> str | None:
        return self._tokenizer.decode([token]) if params.detokenize else None

    def _position(self, logprobs: torch.Tensor, token: int, k: int, params: SamplingParams) -> dict[int, Logprob]:
        """One position's answer: the given token with its rank, then the top k."""
        value = float(logprobs[token])
        found = {token: Logprob(value, int((logprobs >= value).sum()), self._decoded(token, params))}
        top = torch.topk(logprobs, k) if k > 0 else None
        if top is not None:
            for rank, (lp, top_token) in enumerate(zip(top.values.tolist(), top.indices.tolist()), start=1):
                found[top_token] = Logprob(lp, rank, self._decoded(top_token, params))
        return found

    @torch.inference_mode()
    def _answer(self, prompt: str | None, ids: list[int], params: SamplingParams) -> RequestOutput:
        self._counter += 1
        request_id = str(self._counter)
        prompt_logprobs: list[dict[int, Logprob] | None] | None = None
        if params.prompt_logprobs is not None:
            logits = self.model(input_ids=torch.tensor([ids])).logits[0].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            prompt_logprobs = [None] + [self._position(logprobs[i - 1], ids[i], params.prompt_logprobs, params)
                                        for i in range(1, len(ids))]
        generator = torch.Generator().manual_seed(params.seed if params.seed is not None else self.seed + self._counter)
        eos = {self._tokenizer.eos_token_id}
        limit = self.llm_engine.model_config.max_model_len
        out: list[int] = []
        sampled: list[dict[int, Logprob]] = []
        text, finish, stop_reason = "", None, None
        while finish is None:
            logits = self.model(input_ids=torch.tensor([ids + out])).logits[0, -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            token = self._next_token(logits, params, generator, ids, out)
            out.append(token)
            if params.logprobs is not None:
                sampled.append(self._position(logprobs, token, params.logprobs, params))
            stopped_by_token = False
            if len(out) >= (params.max_tokens or limit) or len(ids) + len(out) >= limit:
                finish = "length"
            elif token in eos and not params.ignore_eos:
                finish, stopped_by_token = "stop", True
            elif token in params.stop_token_ids:
                finish, stop_reason, stopped_by_token = "stop", token, True
            if params.detokenize:
                shown = out[:-1] if stopped_by_token else out
                text = self._tokenizer.decode(shown, skip_special_tokens=params.skip_special_tokens)
                if not stopped_by_token:
                    for stop in params.stop:
                        at = text.find(stop)
                        if at >= 0:
                            text = text[:at + len(stop)] if params.include_stop_str_in_output else text[:at]
                            finish, stop_reason = "stop", stop
                            break
        cumulative = sum(p[t].logprob for p, t in zip(sampled, out)) if params.logprobs is not None else None
        return RequestOutput(request_id, prompt, list(ids), prompt_logprobs,
                             [CompletionOutput(0, text, out, cumulative, sampled if params.logprobs is not None
                                               else None, finish, stop_reason)])

    @staticmethod
    def _penalized(logits: torch.Tensor, params: SamplingParams, prompt: list[int], out: list[int]) -> torch.Tensor:
        """The logits after the repetition, frequency and presence penalties, as vLLM applies them."""
        logits = logits.clone()
        if params.repetition_penalty != 1.0:
            seen = torch.tensor(sorted(set(prompt) | set(out)), dtype=torch.long)
            picked = logits[seen]
            logits[seen] = torch.where(picked > 0, picked / params.repetition_penalty,
                                       picked * params.repetition_penalty)
        if out and (params.frequency_penalty or params.presence_penalty):
            counts = torch.bincount(torch.tensor(out), minlength=logits.shape[0])[:logits.shape[0]].float()
            logits -= params.frequency_penalty * counts + params.presence_penalty * (counts > 0).float()
        return logits

    @staticmethod
    def _next_token(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator, prompt: list[int],
                    out: list[int]) -> int:
        logits = LLM._penalized(logits, params, prompt, out)
        if params.temperature < _SAMPLING_EPS:
            return int(logits.argmax())
        probs = torch.softmax(logits / params.temperature, dim=-1)
        if params.min_p > 0:
            probs = torch.where(probs >= params.min_p * probs.max(), probs, 0.0)
        if params.top_k > 0:
            cutoff = torch.topk(probs, params.top_k).values[-1]
            probs = torch.where(probs >= cutoff, probs, 0.0)
        if params.top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(ordered, dim=0) - ordered < params.top_p * ordered.sum()
            probs = torch.zeros_like(probs).scatter(0, order, torch.where(keep, ordered, 0.0))
        return int(torch.multinomial(probs / probs.sum(), 1, generator=generator))


def install(monkeypatch: Any) -> types.ModuleType:
    """Put a fresh double of `vllm` (and the submodules jeval imports) in `sys.modules` for one
    test; `vllm.distributed.parallel_state.calls` records the teardown calls made."""
    vllm = types.ModuleType("vllm")
    vllm.__version__ = VERSION  # type: ignore[attr-defined]
    for name, value in {"LLM": LLM, "SamplingParams": SamplingParams, "TokensPrompt": TokensPrompt,
                        "RequestOutput": RequestOutput, "CompletionOutput": CompletionOutput}.items():
        setattr(vllm, name, value)
    platforms = types.ModuleType("vllm.platforms")
    platforms.current_platform = types.SimpleNamespace(device_type="cpu")  # type: ignore[attr-defined]
    distributed = types.ModuleType("vllm.distributed")
    parallel_state = types.ModuleType("vllm.distributed.parallel_state")
    calls: list[str] = []
    parallel_state.calls = calls  # type: ignore[attr-defined]
    parallel_state.destroy_model_parallel = lambda: calls.append("destroy_model_parallel")  # type: ignore[attr-defined]
    parallel_state.destroy_distributed_environment = (  # type: ignore[attr-defined]
        lambda: calls.append("destroy_distributed_environment"))
    vllm.platforms = platforms  # type: ignore[attr-defined]
    vllm.distributed = distributed  # type: ignore[attr-defined]
    distributed.parallel_state = parallel_state  # type: ignore[attr-defined]
    for module in (vllm, platforms, distributed, parallel_state):
        module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)
        monkeypatch.setitem(sys.modules, module.__name__, module)
    return vllm


class VllmStyleServer:
    """`vllm serve` over a double's LLM on loopback: /v1/models, /version, /v1/completions (text or
    token-id prompts, `echo` with `logprobs` giving prompt log-probabilities) and
    /v1/chat/completions."""

    def __init__(self, llm: LLM, model_id: str):
        self.llm = llm
        self.model_id = model_id
        self.seen: list[dict[str, Any]] = []
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/version"):
                    self._send({"version": VERSION})
                elif self.path.rstrip("/").endswith("/models"):
                    self._send({"object": "list", "data": [
                        {"id": model_id, "object": "model", "created": 0, "owned_by": "vllm", "root": model_id,
                         "parent": None, "max_model_len": llm.llm_engine.model_config.max_model_len}]})
                else:
                    self._send({}, 200 if self.path == "/health" else 404)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.seen.append(body)
                try:
                    if self.path.endswith("/chat/completions"):
                        self._send(server.chat(body))
                    elif self.path.endswith("/completions"):
                        self._send(server.complete(body))
                    else:
                        self._send({"object": "error", "message": "not found", "code": 404}, 404)
                except ValueError as e:
                    self._send({"object": "error", "message": str(e), "type": "BadRequestError", "param": None,
                                "code": 400}, 400)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def tokenizer(self) -> Any:
        return self.llm.get_tokenizer()

    def _params(self, body: dict[str, Any], ids: list[int], prompt_logprobs: int | None) -> SamplingParams:
        """The request as vLLM's server turns it into SamplingParams: fields it leaves out taken
        from the generation config, `max_tokens` capped by the context and the config's
        `max_new_tokens`; a prompt that cannot fit with `max_tokens` refused (400)."""
        config = self.llm.llm_engine.model_config
        defaults = config.get_diff_sampling_param()
        asked = body.get("max_tokens", 16)
        if len(ids) + asked > config.max_model_len:
            raise ValueError(f"This model's maximum context length is {config.max_model_len} tokens. However, you "
                             f"requested {len(ids) + asked} tokens ({len(ids)} in the messages, {asked} in the "
                             "completion). Please reduce the length of the messages or completion.")
        max_tokens = min(v for v in (config.max_model_len - len(ids), asked, defaults.get("max_tokens"))
                         if v is not None)
        chosen = {name: body[name] if body.get(name) is not None else defaults.get(name, neutral)
                  for name, neutral in (("repetition_penalty", 1.0), ("temperature", 1.0), ("top_p", 1.0),
                                        ("top_k", 0), ("min_p", 0.0))}
        chosen.update(presence_penalty=body.get("presence_penalty") or 0.0,
                      frequency_penalty=body.get("frequency_penalty") or 0.0)
        return SamplingParams(**chosen, seed=body.get("seed"), stop=body.get("stop"), max_tokens=max_tokens,
                              logprobs=body.get("logprobs"), prompt_logprobs=prompt_logprobs)

    def _render_logprobs(self, ids: list[int], positions: list[Any], top: int, as_ids: bool) -> dict[str, Any]:
        def shown(token: int, logprob: Logprob | None) -> str:
            if as_ids:
                return f"token_id:{token}"
            if logprob is not None and logprob.decoded_token is not None:
                return logprob.decoded_token
            return self.tokenizer.decode([token])

        tokens, token_logprobs, tops, offsets = [], [], [], []
        for token, position in zip(ids, positions, strict=True):
            offsets.append(offsets[-1] + len(tokens[-1]) if tokens else 0)
            if position is None:
                tokens.append(shown(token, None))
                token_logprobs.append(None)
                tops.append(None)
                continue
            tokens.append(shown(token, position[token]))
            token_logprobs.append(max(position[token].logprob, -9999.0))
            tops.append({shown(t, lp): max(lp.logprob, -9999.0)
                         for i, (t, lp) in enumerate(position.items()) if top >= i})
        return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": tops, "text_offset": offsets}

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["prompt"]
        if isinstance(prompt, str):
            ids = self.tokenizer(prompt, add_special_tokens=body.get("add_special_tokens", True)).input_ids
        elif isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
            ids = list(prompt)
        else:
            raise ValueError("the test double answers one prompt per request")
        echo, logprobs = bool(body.get("echo")), body.get("logprobs")
        params = self._params(body, ids, body.get("prompt_logprobs", logprobs if echo else None))
        [found] = self.llm.generate([{"prompt_token_ids": ids}], params, use_tqdm=False)
        out = found.outputs[0]
        text = (self.tokenizer.decode(ids) + out.text) if echo else out.text
        rendered = None
        if logprobs is not None:
            assert out.logprobs is not None
            shown_ids = [*ids, *out.token_ids] if echo else out.token_ids
            positions = [*(found.prompt_logprobs or []), *out.logprobs] if echo else out.logprobs
            as_ids = bool(body.get("return_tokens_as_token_ids"))
            rendered = self._render_logprobs(shown_ids, positions, logprobs, as_ids)
        return {"id": f"cmpl-{found.request_id}", "object": "text_completion", "created": 0, "model": self.model_id,
                "choices": [{"index": 0, "text": text, "logprobs": rendered, "finish_reason": out.finish_reason,
                             "stop_reason": out.stop_reason}],
                "usage": self._usage(ids, out)}

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        rendered = self.tokenizer.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
        ids = self.tokenizer(rendered, add_special_tokens=False).input_ids
        params = self._params(body, ids, None)
        [found] = self.llm.generate([{"prompt_token_ids": ids}], params, use_tqdm=False)
        out = found.outputs[0]
        return {"id": f"chatcmpl-{found.request_id}", "object": "chat.completion", "created": 0,
                "model": self.model_id,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": out.text},
                             "finish_reason": out.finish_reason, "stop_reason": out.stop_reason}],
                "usage": self._usage(ids, out)}

    @staticmethod
    def _usage(ids: list[int], out: CompletionOutput) -> dict[str, int]:
        return {"prompt_tokens": len(ids), "completion_tokens": len(out.token_ids),
                "total_tokens": len(ids) + len(out.token_ids)}
