"""`jeval run --model ORG/NAME[@REVISION]`: a Hub model id is downloaded into the Hugging Face cache
and evaluated as a checkpoint folder; the model record names the repo and the commit.

The Hub is a loopback double (the Hub cannot be reached from here): it answers the calls
huggingface_hub's `snapshot_download` makes, as the Hub answers them: the revision's info
(`/api/models/{repo}/revision/{rev}`, with the commit sha), the commit's file tree
(`/api/models/{repo}/tree/{sha}`), and each file at `/{repo}/resolve/{sha}/{file}` (HEAD then GET,
with X-Repo-Commit and ETag headers). It serves the tiny checkpoint's files, copied at test time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

import pytest
from conftest import error_lines, jeval
from http_support import JsonHandler

from jeval.fingerprint import checkpoint_fingerprint
from jeval.models.hub import CHECKPOINT_FILES, hub_id

REPO = "jeval-test/tiny"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
CHECKPOINT_NAMES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                    "tokenizer_config.json", "chat_template.jinja")
EXTRA_NAMES = ("training_args.bin", "README.md")
"""Files of the repo that are not part of a checkpoint: never downloaded."""


class FakeHub(JsonHandler):
    files: ClassVar[dict[str, bytes]] = {}
    gated: ClassVar[set[str]] = set()
    seen: ClassVar[list[str]] = []

    def _error(self, status: int, code: str) -> None:
        data = json.dumps({"error": code}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _repo(self, path: str) -> tuple[str, str] | None:
        """(repo, rest of the path) for a repo this Hub knows, else answers the error itself."""
        parts = path.split("/")
        repo, rest = "/".join(parts[:2]), "/".join(parts[2:])
        if repo in self.gated:
            self._error(403, "GatedRepo")
            return None
        if repo != REPO:
            self._error(404, "RepoNotFound")
            return None
        return repo, rest

    def _file(self, rest: str, body: bool) -> None:
        revision, _, name = rest.removeprefix("resolve/").partition("/")
        if revision not in (COMMIT, "main") or name not in self.files:
            self._error(404, "EntryNotFound")
            return
        data = self.files[name]
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _answer(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path).lstrip("/")
        type(self).seen.append(f"{self.command} /{path}")
        api = path.startswith("api/models/")
        found = self._repo(path.removeprefix("api/models/") if api else path)
        if found is None:
            return
        _repo, rest = found
        if api and rest.startswith("revision/"):
            if rest.removeprefix("revision/") not in ("main", COMMIT):
                self._error(404, "RevisionNotFound")
                return
            self._send({"id": REPO, "modelId": REPO, "sha": COMMIT, "private": False,
                        "siblings": [{"rfilename": name} for name in sorted(self.files)]})
        elif api and rest.startswith("tree/"):
            self._send([{"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                        for name, data in sorted(self.files.items())])
        elif not api and rest.startswith("resolve/"):
            self._file(rest, body)
        else:
            self._error(404, "EntryNotFound")

    def do_GET(self):
        self._answer(body=True)

    def do_HEAD(self):
        self._answer(body=False)


@contextlib.contextmanager
def fake_hub(checkpoint: Path):
    """A loopback Hub holding `checkpoint` as REPO (and a gated repo): its handler class (which
    records the requests it saw) and its URL."""
    files = {name: (checkpoint / name).read_bytes() for name in CHECKPOINT_NAMES}
    files.update(dict.fromkeys(EXTRA_NAMES, b"not a checkpoint file"))
    handler = type("Hub", (FakeHub,), {"files": files, "gated": {"jeval-test/gated"}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hub(tiny_checkpoint):
    with fake_hub(tiny_checkpoint) as found:
        yield found


def hub_env(url: str, home: Path, offline: bool = False) -> dict[str, str]:
    return {"HF_ENDPOINT": url, "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"),
            "HF_HUB_OFFLINE": "1" if offline else "0", "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": ""}


def run_hub_model(model: str, prepared: Path, tmp_path: Path, env: dict[str, str], run_id: str = "hub"):
    return jeval("run", "--model", model, "--backend", "local", "--tasks", "jcommonsenseqa", "--limit", "2",
                 "--data-dir", prepared, "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out",
                 "--run-id", run_id, "--json", env=env)


def test_a_hub_id_is_told_from_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert hub_id("llm-jp/llm-jp-3-1.8b") == ("llm-jp/llm-jp-3-1.8b", None)
    assert hub_id("org/name@v1.0") == ("org/name", "v1.0")
    (tmp_path / "org" / "here").mkdir(parents=True)
    assert hub_id("org/here") is None, "a folder by that name is the checkpoint"
    assert hub_id("./org/name") is None and hub_id("/abs/path") is None and hub_id("one-part") is None
    assert "*.safetensors" in CHECKPOINT_FILES and "*.bin" not in CHECKPOINT_FILES


def test_a_hub_model_is_downloaded_and_evaluated(hub, prepared, tmp_path, tiny_checkpoint):
    handler, url = hub
    home = tmp_path / "hf"
    proc = run_hub_model(REPO, prepared, tmp_path, hub_env(url, home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout[proc.stdout.index("{"):])
    model = results["model"]
    snapshot = home / "hub" / "models--jeval-test--tiny" / "snapshots" / COMMIT
    assert model["name"] == REPO and model["revision"] == f"{REPO}@{COMMIT}"
    assert Path(model["path"]).resolve() == snapshot.resolve()
    assert results["tasks"]["jcommonsenseqa"]["n_samples"] == 2
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(CHECKPOINT_NAMES), "only checkpoint files"
    assert f"GET /api/models/{REPO}/revision/main" in handler.seen
    assert not any(name in line for line in handler.seen for name in EXTRA_NAMES if "/resolve/" in line)

    folder = tmp_path / "same-files"
    folder.mkdir()
    for name in CHECKPOINT_NAMES:
        shutil.copy(tiny_checkpoint / name, folder / name)
    assert model["fingerprint"] == checkpoint_fingerprint(folder), "the files' fingerprint, wherever they came from"

    handler.seen.clear()
    again = run_hub_model(f"{REPO}@{COMMIT}", prepared, tmp_path, hub_env(url, home, offline=True), "cached")
    assert again.returncode == 0, again.stderr[-3000:]
    assert handler.seen == [], "offline, the cached snapshot is used and the Hub is not asked"


def test_offline_with_nothing_cached_is_one_line(hub, prepared, tmp_path):
    _handler, url = hub
    proc = run_hub_model(REPO, prepared, tmp_path, hub_env(url, tmp_path / "empty", offline=True))
    [line] = error_lines(proc)
    assert proc.returncode == 2
    assert line.startswith("jeval:") and "not in the local Hugging Face cache" in line and "offline" in line


def test_an_unknown_or_gated_repo_is_one_line(hub, prepared, tmp_path):
    _handler, url = hub
    proc = run_hub_model("jeval-test/missing", prepared, tmp_path, hub_env(url, tmp_path / "hf"))
    [line] = error_lines(proc)
    assert proc.returncode == 2 and "no model jeval-test/missing on the Hub" in line and "huggingface-cli login" in line

    gated = run_hub_model("jeval-test/gated", prepared, tmp_path, hub_env(url, tmp_path / "hf"))
    [line] = error_lines(gated)
    assert gated.returncode == 2 and "gated" in line and "licence" in line

    revision = run_hub_model(f"{REPO}@no-such-branch", prepared, tmp_path, hub_env(url, tmp_path / "hf"))
    [line] = error_lines(revision)
    assert revision.returncode == 2 and "no revision 'no-such-branch'" in line
