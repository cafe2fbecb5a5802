"""`jeval serve`: starts the server, prints where it is, writes its log, stops cleanly."""

from __future__ import annotations

import socket

import httpx
from conftest import start_jeval_serve, stop


def test_serve_prints_base_url_and_stops_cleanly_on_sigterm(tiny_checkpoint, tmp_path):
    server = start_jeval_serve(tiny_checkpoint, tmp_path / "logs")
    base = server.base_url.removesuffix("/v1")
    assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    assert server.model_id == str(tiny_checkpoint.resolve())
    assert server.log.exists() and server.log.parent == (tmp_path / "logs").resolve()
    assert stop(server.process) == 0
    port = int(base.rsplit(":", 1)[1])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the model server outlived jeval serve"
