"""The engines a model can run on, what each can be asked, and opening a model lazily.

| engine              | kind     | generate, chat | log-likelihoods, token log-probabilities      |
|---------------------|----------|----------------|-----------------------------------------------|
| vllm                | server   | yes            | yes (prompt log-probabilities, our tokenizer) |
| transformers-serve  | server   | yes            | no (it refuses or ignores them)               |
| transformers        | local    | yes            | yes (in-process forward passes, batched)      |
| vllm-offline        | local    | yes            | yes (vLLM's `LLM` class in process)           |
| openai-compatible   | endpoint | yes            | maybe: where the model id is a checkpoint     |
|                     |          |                | folder here, if the server answers them       |

A `transformers serve` behind `--base-url` cannot be told from other servers by asking it, so the
user names it with `--engine transformers` (engine transformers-serve, kind endpoint).

A task's needs are checked against the engine before anything starts (`check_capabilities`).
Servers jeval starts and in-process models are started on the first request the cache could not
answer, so a fully cached run starts neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from jeval.errors import JevalError
from jeval.fingerprint import checkpoint_fingerprint
from jeval.identity import Basis, ModelIdentity, display_name, endpoint_fingerprint
from jeval.io import read_json
from jeval.models.client import (
    ClientConfig,
    Completion,
    OpenAIClient,
    Usage,
    api_key_from_env,
    normalize_base_url,
)
from jeval.models.inprocess import LocalSettings
from jeval.models.model import (
    CAPABLE,
    ContextWindow,
    LogLikelihood,
    Model,
    Support,
    Unscorable,
    Window,
    context_window_of,
    split_pair,
)
from jeval.models.server import Engine, ModelServer, ServeConfig, check_checkpoint, choose_engine
from jeval.task import Capability

log = logging.getLogger(__name__)

EngineName = Literal["vllm", "vllm-offline", "transformers-serve", "transformers", "openai-compatible"]
Kind = Literal["server", "local", "endpoint"]
LOG_PROBABILITIES: tuple[Capability, ...] = ("loglikelihood", "token_logprobs")
REPORTED_FIELDS = ("owned_by", "root", "parent", "max_model_len")
"""What an OpenAI-compatible server reports about a model that identifies it (vLLM reports the
weights' path as `root`); `created` is left out: vLLM sets it to the time of the request."""



@dataclass(frozen=True)
class EngineSpec:
    name: EngineName
    kind: Kind
    capabilities: Mapping[Capability, Support]
    refusal: str = ""
    """Why the engine lacks what it lacks, for error messages."""


def _engine_spec(name: EngineName, endpoint_tokenizer: bool = False, behind_url: bool = False) -> EngineSpec:
    """`behind_url`: a `transformers serve` the user started and names with `--engine transformers`
    beside `--base-url` (kind endpoint: jeval starts nothing)."""
    generation: dict[Capability, Support] = {"generate": "yes", "chat": "yes"}
    if name in ("vllm", "vllm-offline", "transformers"):
        return EngineSpec(name, "server" if name == "vllm" else "local",
                          {**generation, "loglikelihood": "yes", "token_logprobs": "yes"})
    if name == "transformers-serve":
        return EngineSpec(name, "endpoint" if behind_url else "server", generation,
                          "`transformers serve` cannot give (it answers 422 to prompt_logprobs and 500 to echo "
                          "with max_tokens=0, and ignores logprobs otherwise)")
    if endpoint_tokenizer:
        return EngineSpec(name, "endpoint", {**generation, "loglikelihood": "maybe", "token_logprobs": "maybe"})
    return EngineSpec(name, "endpoint", generation,
                      "jeval cannot ask of a URL without the model's tokenizer (pass --model-id as the checkpoint "
                      "folder the server serves)")


@dataclass(frozen=True)
class ModelSpec:
    """How the user named the model and how to reach it."""

    checkpoint: Path | None = None
    base_urls: tuple[str, ...] = ()
    model_id: str | None = None
    name: str | None = None
    revision: str | None = None
    backend: Literal["server", "local"] = "server"
    engine: Engine = "auto"
    server_args: tuple[str, ...] = ()
    api_key_env: str | None = None
    concurrency: int = 16
    max_retries: int = 5
    timeout_s: float = 300.0
    log_dir: Path = Path("results/logs")
    home: Path | None = None
    """Where checkpoint fingerprints are remembered (None: nowhere)."""
    local: LocalSettings = field(default_factory=LocalSettings)
    """How an in-process engine runs (`--backend local`)."""

    def __post_init__(self) -> None:
        if (self.checkpoint is None) == (not self.base_urls):
            raise JevalError("give either --model CKPT (a checkpoint folder) or --base-url URL, not both or neither")
        if self.backend == "local" and self.checkpoint is None:
            raise JevalError("--backend local needs --model CKPT")
        if self.backend != "local" and self.local != LocalSettings():
            raise JevalError("--device, --dtype, --batch-size and --threads set how jeval runs a model in process; "
                             "they need --backend local (a server takes its own options: --server-arg)")
        if self.base_urls and self.engine == "vllm":
            raise JevalError("--engine vllm with --base-url: jeval asks the server what it is (vLLM answers "
                             "/version); with --base-url, --engine only names a `transformers serve` "
                             "(--engine transformers), which cannot say so itself")

    def api_key(self) -> str | None:
        return api_key_from_env(self.api_key_env,
                                f"--api-key-env {self.api_key_env}: that environment variable is not set")


def check_capabilities(capabilities: Mapping[Capability, Support], needs: Mapping[str, frozenset[Capability]],
                       engine: str, refusal: str = "") -> None:
    """Fail, before anything starts, when a task needs what the engine cannot give."""
    for capability in ("generate", "chat", *LOG_PROBABILITIES):
        tasks = [name for name, need in needs.items() if capability in need]
        if tasks and capability not in capabilities:
            what = {"loglikelihood": "log-likelihoods",
                    "token_logprobs": "the log-probabilities of the corpus tokens"}.get(capability,
                                                                                      f"{capability} requests")
            why = refusal or f"the {engine} engine cannot give"
            verb = "needs" if len(tasks) == 1 else "need"
            raise JevalError(f"{', '.join(tasks)} {verb} {what}, which {why}; use {CAPABLE}")


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def preflight(base_url: str) -> None:
    """Fail fast, with one clear line, when nothing listens at `base_url`."""
    import httpx

    url = normalize_base_url(base_url) + "/models"
    try:
        httpx.get(url, timeout=10.0)
    except httpx.HTTPError as e:
        raise JevalError(
            f"cannot reach {base_url} ({type(e).__name__}: {e}); "
            "start a server with `jeval serve CKPT` or check --base-url"
        ) from None


def listed_models(base_url: str, api_key: str | None) -> list[dict[str, Any]]:
    """The server's `/v1/models` entries (empty when it lists none or cannot answer)."""
    import httpx

    url = normalize_base_url(base_url) + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        data = httpx.get(url, timeout=10.0, headers=headers).json()
        entries = data.get("data", [])
    except (httpx.HTTPError, ValueError, AttributeError):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]


def _checkpoint_dtype(checkpoint: Path) -> str:
    """The dtype `from_pretrained(dtype="auto")` loads the weights in: the config's, else float32."""
    try:
        config = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "float32"
    found = config.get("dtype") or config.get("torch_dtype") if isinstance(config, dict) else None
    return str(found) if found else "float32"


def _device() -> str:
    """The device the engine will compute on, told without importing torch (a fully cached run
    must stay cheap): a CPU build of torch, no visible NVIDIA device, or CUDA hidden by
    CUDA_VISIBLE_DEVICES mean the CPU."""
    torch_version = package_version("torch") or ""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1")
    if "+cpu" in torch_version or not torch_version or hidden:
        return "cpu"
    return "cuda" if any(Path("/dev").glob("nvidia[0-9]*")) else "cpu"


def _check_device(device: str | None) -> None:
    """An in-process `--device` that cannot be had, refused before anything loads."""
    if device is None:
        return
    if not re.fullmatch(r"cpu|mps|(cuda|xpu)(:\d+)?", device):
        raise JevalError(f"--device {device!r} is not a device torch knows (e.g. cpu, cuda, cuda:1, mps)")
    if device.startswith("cuda") and _device() == "cpu":
        raise JevalError(f"--device {device}: this torch build sees no CUDA device (torch "
                         f"{package_version('torch')}, CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')})")


def _check_vllm_settings(settings: LocalSettings) -> None:
    """vLLM schedules its own batches and threads and runs on the GPU: options of in-process
    transformers that it would ignore are refused rather than dropped."""
    ignored = [name for name, given in (("--batch-size", settings.batch_size != "auto"),
                                        ("--threads", settings.threads is not None),
                                        ("--device", settings.device not in (None, "cuda"))) if given]
    if ignored:
        raise JevalError(f"{', '.join(ignored)}: the in-process vLLM engine schedules its own batches on the GPU; "
                         "leave them out, or use --engine transformers")


def _server_dtype(args: tuple[str, ...]) -> str:
    for i, arg in enumerate(args):
        if arg.startswith("--dtype="):
            return arg.split("=", 1)[1]
        if arg == "--dtype" and i + 1 < len(args):
            return args[i + 1]
    return "auto"


@dataclass(frozen=True)
class Resolved:
    """An engine chosen and the model's identity, both known before anything starts."""

    spec: ModelSpec
    engine: EngineSpec
    identity: ModelIdentity
    served_checkpoint: Path | None
    """A checkpoint folder here holding the served model's tokenizer, where one is known."""


def engine_for(spec: ModelSpec) -> EngineSpec:
    """The engine the model will run on, decided without contacting or starting anything."""
    if spec.checkpoint is not None:
        check_checkpoint(spec.checkpoint)
        if spec.backend == "local":
            if choose_engine(spec.engine) == "vllm":
                _check_vllm_settings(spec.local)
                return _engine_spec("vllm-offline")
            _check_device(spec.local.device)
            return _engine_spec("transformers")
        return _engine_spec("vllm" if choose_engine(spec.engine) == "vllm" else "transformers-serve")
    if spec.engine == "transformers":
        return _engine_spec("transformers-serve", behind_url=True)
    return _engine_spec("openai-compatible", spec.model_id is not None and _local_checkpoint(spec.model_id) is not None)


def resolve(spec: ModelSpec) -> Resolved:
    """Choose the engine and establish the model's identity (fingerprinting a checkpoint, asking
    an endpoint what it serves), without starting anything."""
    memo = spec.home / "fingerprints.json" if spec.home is not None else None
    if spec.checkpoint is None:
        return _resolve_endpoint(spec, memo)
    engine = engine_for(spec)
    checkpoint = check_checkpoint(spec.checkpoint)
    fingerprint = checkpoint_fingerprint(checkpoint, memo)
    name = display_name(spec.name, checkpoint=checkpoint, fingerprint=fingerprint)
    settings: dict[str, Any] = {"device": _device()}
    if engine.name == "transformers":
        settings["device"] = spec.local.device or settings["device"]
        settings["dtype"] = _checkpoint_dtype(checkpoint) if spec.local.dtype == "auto" else spec.local.dtype
        settings["sampling"] = SAMPLING_RULE
        identity = ModelIdentity(name, fingerprint, "weights", engine.name, _local_version(), settings,
                                 path=str(checkpoint), revision=spec.revision)
        return Resolved(spec, engine, identity, checkpoint)
    if engine.name == "vllm-offline":
        settings["dtype"] = spec.local.dtype
        identity = ModelIdentity(name, fingerprint, "weights", engine.name, package_version("vllm"), settings,
                                 path=str(checkpoint), revision=spec.revision)
        return Resolved(spec, engine, identity, checkpoint)
    settings["server_args"] = list(spec.server_args)
    if engine.name == "vllm":
        settings["dtype"] = _server_dtype(spec.server_args)
    else:
        settings["sampling"] = SAMPLING_RULE
    identity = ModelIdentity(name, fingerprint, "weights", engine.name,
                             package_version("vllm" if engine.name == "vllm" else "transformers"), settings,
                             served_id=str(checkpoint), path=str(checkpoint), revision=spec.revision)
    return Resolved(spec, engine, identity, checkpoint)


def server_version(base_url: str) -> str | None:
    """What the server says it is (vLLM answers `GET /version`), or None."""
    import httpx

    url = normalize_base_url(base_url).removesuffix("/v1") + "/version"
    try:
        response = httpx.get(url, timeout=5.0)
        found = response.json().get("version") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return str(found) if found else None


def _resolve_endpoint(spec: ModelSpec, memo: Path | None) -> Resolved:
    """A model behind a URL: its weights where a checkpoint folder here names it, else what the
    server reports and the stated revision. The engine behind a URL is unknown; what the server
    says of itself (`owned_by`, `/version`) is part of the identity, so that answers of one server
    kind are not served to another for the same weights."""
    for url in spec.base_urls:
        preflight(url)
    api_key = spec.api_key()
    listed = listed_models(spec.base_urls[0], api_key)
    model_id = spec.model_id or _only_model(spec.base_urls[0], listed)
    entry = next((e for e in listed if e["id"] == model_id), {})
    reported = {k: entry[k] for k in REPORTED_FIELDS if entry.get(k) is not None}
    local = _local_checkpoint(model_id) or _local_checkpoint(str(reported.get("root", "")))
    if spec.engine == "transformers" and local is None:
        raise JevalError(f"--engine transformers with --base-url: the model id {model_id!r} is not a checkpoint "
                         "folder here; give --model-id as the folder the server serves, so that jeval can read its "
                         "generation config (`transformers serve` samples by it)")
    basis: Basis
    if local is not None:
        fingerprint, basis = checkpoint_fingerprint(local, memo), "weights"
    elif reported:
        fingerprint, basis = endpoint_fingerprint(model_id, spec.revision, reported), "served metadata"
    else:
        fingerprint, basis = endpoint_fingerprint(model_id, spec.revision, {}), "model id"
        log.warning("%s reports nothing about %r beyond its id: its answers are cached under the id%s; pass "
                    "--model-revision when the model behind it changes", spec.base_urls[0], model_id,
                    f" and revision {spec.revision!r}" if spec.revision else "")
    name = display_name(spec.name, model_id=model_id, fingerprint=fingerprint)
    if spec.engine == "transformers" and local is not None:
        identity = ModelIdentity(name, fingerprint, basis, "transformers-serve", None,
                                 {"sampling": SAMPLING_RULE, "started_by": "user"}, served_id=model_id,
                                 revision=spec.revision, path=str(local))
        return Resolved(spec, _engine_spec("transformers-serve", behind_url=True), identity, local)
    served_by = {"owned_by": reported.get("owned_by")} if reported.get("owned_by") else {}
    identity = ModelIdentity(name, fingerprint, basis, "openai-compatible", server_version(spec.base_urls[0]),
                             served_by, served_id=model_id, revision=spec.revision,
                             path=str(local) if local is not None else None)
    return Resolved(spec, _engine_spec("openai-compatible", local is not None), identity, local)


SAMPLING_RULE = "checkpoint defaults, whole vocabulary"
"""How the transformers engines sample what a request leaves out, as vLLM does: from the
checkpoint's generation config, without transformers' library top_k of 50. Named in the identity
because answers sampled before this rule must not be served as answers under it: in-process ones
drawn from the 50 likeliest tokens, and `transformers serve` ones that were greedy (it samples
only where the checkpoint's generation config sets do_sample; see `serve_sampling`)."""


def serve_sampling(checkpoint: Path) -> dict[str, str]:
    """Request fields that make `transformers serve` sample a request above temperature 0 by
    SAMPLING_RULE. The server copies the checkpoint's generation config and sets only temperature
    and top_p on it, so where the checkpoint does not set do_sample it answers greedily whatever
    the temperature, and where it sets no top_k generate() draws from transformers' library top_k
    of 50. Given a `generation_config` field, it builds the config from that field instead
    (temperature and top_p from the request as before), and generate() fills what the field
    leaves unset from the checkpoint's own config."""
    path = checkpoint / "generation_config.json"
    own = read_json(path) if path.is_file() else {}
    if not isinstance(own, dict):
        raise JevalError(f"{path} is not a JSON object")
    fields: dict[str, Any] = {"do_sample": True}
    if own.get("top_k") is None:
        fields["top_k"] = 0
    return {"generation_config": json.dumps(fields, sort_keys=True)}


def _local_version() -> str:
    return f"transformers {package_version('transformers')}, torch {package_version('torch')}"


def _only_model(base_url: str, listed: list[dict[str, Any]]) -> str:
    ids = [e["id"] for e in listed]
    if len(ids) != 1:
        found = f"it lists {', '.join(ids)}" if ids else "it lists none"
        raise JevalError(f"cannot tell which model to use at {base_url} ({found}); pass --model-id")
    return ids[0]


def _local_checkpoint(path: str) -> Path | None:
    if not path:
        return None
    candidate = Path(path)
    return candidate.resolve() if (candidate / "config.json").is_file() else None


class _ResolvedModel:
    """What every engine's model knows before it starts: who it is and what it can give."""

    def __init__(self, resolved: Resolved):
        self._resolved = resolved
        self._window: tuple[ContextWindow | None] | None = None

    @property
    def identity(self) -> ModelIdentity:
        return self._resolved.identity

    def context_window(self) -> ContextWindow | None:
        """Read once from the checkpoint folder, where one is known (a bare URL has none)."""
        if self._window is None:
            checkpoint = self._resolved.served_checkpoint
            self._window = (context_window_of(checkpoint) if checkpoint is not None else None,)
        return self._window[0]

    @property
    def capabilities(self) -> Mapping[Capability, Support]:
        return self._resolved.engine.capabilities


class ServedModel(_ResolvedModel):
    """A model behind the OpenAI-compatible HTTP API: a server jeval starts on first use, or a URL."""

    def __init__(self, resolved: Resolved):
        super().__init__(resolved)
        spec = resolved.spec
        self._server = (ModelServer(ServeConfig(resolved.served_checkpoint, engine=spec.engine,
                                                log_dir=spec.log_dir, extra_args=spec.server_args))
                        if resolved.engine.kind == "server" and resolved.served_checkpoint is not None else None)
        self._client: OpenAIClient | None = None
        self._lock = asyncio.Lock()
        self._usage = Usage()
        self._tokenizer: Any = None
        self.started = False
        served = resolved.served_checkpoint
        on_serve = resolved.engine.name == "transformers-serve"
        self._sampled_fields = serve_sampling(served) if on_serve and served is not None else {}
        """Request fields sent with every request above temperature 0 (`serve_sampling`)."""

    @property
    def usage(self) -> Usage:
        return self._client.usage if self._client is not None else self._usage

    async def client(self) -> OpenAIClient:
        async with self._lock:
            if self._client is None:
                spec = self._resolved.spec
                urls = spec.base_urls
                if self._server is not None:
                    log.info("starting %s serve for %s", self._resolved.engine.name.split("-")[0],
                             self._resolved.identity.name)
                    self.started = True
                    await asyncio.to_thread(self._server.start)
                    urls = (self._server.base_url,)
                served_id = self._resolved.identity.served_id or ""
                self._client = OpenAIClient(ClientConfig(urls, served_id, spec.api_key(), concurrency=spec.concurrency,
                                                         max_retries=spec.max_retries, timeout_s=spec.timeout_s))
        return self._client

    def _extra(self, temperature: float) -> dict[str, Any]:
        return {"extra_body": self._sampled_fields} if temperature > 0 and self._sampled_fields else {}

    async def complete(self, prompt: str, *, max_tokens: int, temperature: float = 0.0,
                       stop: list[str] | None = None, seed: int | None = None,
                       sampling: Mapping[str, float] | None = None) -> Completion:
        return await (await self.client()).complete(prompt, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                                    seed=seed, sampling=sampling, **self._extra(temperature))

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0,
                   stop: list[str] | None = None, seed: int | None = None,
                   sampling: Mapping[str, float] | None = None) -> Completion:
        return await (await self.client()).chat(messages, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                                seed=seed, sampling=sampling, **self._extra(temperature))

    def _checkpoint(self) -> Path:
        checkpoint = self._resolved.served_checkpoint
        if checkpoint is None or "loglikelihood" not in self.capabilities:
            raise Unscorable(self._resolved.engine.refusal or "this server cannot give")
        return checkpoint

    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self._checkpoint())
        return self._tokenizer

    def model_config(self) -> Any:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(self._checkpoint())

    def _where(self) -> str:
        return ", ".join(self._client.base_urls) if self._client is not None else "the server"

    async def _prompt_logprobs(self, ids: list[int]) -> Any:
        client = await self.client()
        try:
            found = await client.prompt_logprobs(ids)
        except JevalError as e:
            raise Unscorable(f"{self._where()} did not give ({' '.join(str(e).split())})") from None
        if found is None or len(found.logprobs) < len(ids):
            raise Unscorable(f"{self._where()} does not give (it ignored `logprobs`/`echo`)")
        return found

    async def loglikelihood(self, context: str, continuation: str) -> LogLikelihood:
        whole, n_context = split_pair(self.tokenizer(), context, continuation)
        found = await self._prompt_logprobs(whole)
        total, greedy = 0.0, True
        for i in range(n_context, len(whole)):
            total += float(found.logprobs[i])
            top = found.top[i]
            greedy = greedy and bool(top) and max(top, key=top.get) == found.tokens[i]
        return LogLikelihood(total, greedy)

    async def loglikelihoods(self, pairs: Sequence[tuple[str, str]]) -> AsyncIterator[tuple[int, LogLikelihood]]:
        """Every pair asked concurrently (the client bounds how many are in flight), each yielded as
        it comes back."""
        async def one(i: int, context: str, continuation: str) -> tuple[int, LogLikelihood]:
            return i, await self.loglikelihood(context, continuation)

        pending = [asyncio.ensure_future(one(i, *pair)) for i, pair in enumerate(pairs)]
        try:
            for next_done in asyncio.as_completed(pending):
                yield await next_done
        finally:
            for task in pending:
                task.cancel()

    async def _one_window(self, window: Window) -> float:
        found = await self._prompt_logprobs(list(window.ids))
        scored = found.logprobs[window.score_from:len(window.ids)]
        if any(x is None for x in scored):
            raise Unscorable(f"{self._where()} left some prompt tokens without a log-probability")
        return -sum(float(x) for x in scored)

    async def window_nll(self, windows: Sequence[Window]) -> list[float]:
        self._checkpoint()
        return list(await asyncio.gather(*(self._one_window(w) for w in windows)))

    def describe(self) -> dict[str, Any]:
        engine = self._resolved.engine
        out: dict[str, Any] = {"kind": engine.kind, "engine": engine.name, "server_started": self.started}
        if self._server is not None:
            out.update(self._server.describe() if self.started else {"command": None})
            out["engine"] = engine.name
            if self.started:
                out["base_urls"] = [self._server.base_url]
        else:
            out["base_urls"] = list(self._resolved.spec.base_urls)
        return out

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._server is not None:
            # leaving on an error or Ctrl-C, the requests in flight are abandoned: no waiting for them
            await asyncio.to_thread(self._server.stop, sys.exc_info()[0] is not None)


class InProcessModel(_ResolvedModel):
    """An in-process engine, loaded on the first request: transformers (jeval.models.local) or
    vLLM's offline `LLM` (jeval.models.vllm_offline)."""

    def __init__(self, resolved: Resolved):
        super().__init__(resolved)
        self._local: Any = None
        self._loading = asyncio.Lock()
        self._usage = Usage()

    @property
    def usage(self) -> Usage:
        return self._local.usage if self._local is not None else self._usage

    @property
    def _path(self) -> Path:
        assert self._resolved.served_checkpoint is not None
        return self._resolved.served_checkpoint

    async def local(self) -> Any:
        async with self._loading:
            if self._local is None:
                from jeval.models.local import LocalModel

                log.info("loading %s in process (%s)", self.identity.name, self.identity.engine)
                if self.identity.engine == "vllm-offline":
                    from jeval.models.vllm_offline import VllmOfflineModel, VllmSettings

                    vllm_settings = VllmSettings(dtype=self._resolved.spec.local.dtype)
                    self._local = await asyncio.to_thread(VllmOfflineModel, self._path, vllm_settings)
                else:
                    settings = replace(self._resolved.spec.local, device=self.identity.settings.get("device"))
                    self._local = await asyncio.to_thread(LocalModel, self._path, settings)
        return self._local

    async def complete(self, prompt: str, *, max_tokens: int, temperature: float = 0.0,
                       stop: list[str] | None = None, seed: int | None = None,
                       sampling: Mapping[str, float] | None = None) -> Completion:
        """`seed` is not used: in-process sampling is batched, not seeded per request."""
        found: Completion = await (await self.local()).complete(prompt, max_tokens=max_tokens,
                                                                temperature=temperature, stop=stop, sampling=sampling)
        return found

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0,
                   stop: list[str] | None = None, seed: int | None = None,
                   sampling: Mapping[str, float] | None = None) -> Completion:
        """`seed` is not used: in-process sampling is batched, not seeded per request."""
        found: Completion = await (await self.local()).chat(messages, max_tokens=max_tokens,
                                                            temperature=temperature, stop=stop, sampling=sampling)
        return found

    async def loglikelihood(self, context: str, continuation: str) -> LogLikelihood:
        found: LogLikelihood = await (await self.local()).loglikelihood(context, continuation)
        return found

    async def loglikelihoods(self, pairs: Sequence[tuple[str, str]]) -> AsyncIterator[tuple[int, LogLikelihood]]:
        local = await self.local()
        async for found in local.loglikelihoods(pairs):
            yield found

    async def window_nll(self, windows: Sequence[Window]) -> list[float]:
        found: list[float] = await (await self.local()).window_nll(windows)
        return found

    def tokenizer(self) -> Any:
        if self._local is not None:
            return self._local.tokenizer
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self._path)

    def model_config(self) -> Any:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(self._path)

    def describe(self) -> dict[str, Any]:
        settings = self._resolved.spec.local
        out: dict[str, Any] = {"kind": "local", "engine": self.identity.engine, "model_loaded": self._local is not None,
                               **{k: v for k, v in self.identity.settings.items() if k in ("device", "dtype")}}
        if self.identity.engine == "transformers":
            out.update(batch_size=settings.batch_size, threads=settings.threads)
        if self._local is not None:
            out.update(self._local.describe())
        return out

    async def aclose(self) -> None:
        if self._local is not None:
            await self._local.aclose()


@contextlib.asynccontextmanager
async def open_model(resolved: Resolved) -> AsyncIterator[Model]:
    """The model, started on first use and stopped on the way out."""
    model: ServedModel | InProcessModel
    model = InProcessModel(resolved) if resolved.engine.kind == "local" else ServedModel(resolved)
    try:
        yield model
    finally:
        await model.aclose()
