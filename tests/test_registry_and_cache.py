"""Task resolution and the generation cache."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from jeval.cache import GenerationCache, cache_key
from jeval.errors import JevalError
from jeval.identity import ModelIdentity
from jeval.registry import load_registry


def test_groups_expand_and_repeats_are_dropped():
    registry = load_registry()
    names = [t.name for t in registry.resolve(["jaster_mc", "jcommonsenseqa", "jaster_rc"])]
    assert names == ["jcommonsenseqa", "commonsensemoralja", "kuci", "jsquad"]


def test_unknown_task_is_an_error():
    with pytest.raises(JevalError, match="unknown task 'nope'"):
        load_registry().resolve(["nope"])


def test_every_source_has_a_url_a_licence_and_a_pin_or_is_marked_unpinned():
    """Unpinned (empty sha256) only where the exact upstream bytes could not be established;
    llm-jp-eval's own files are always among them."""
    for task in load_registry().tasks.values():
        for source in task.sources():
            assert source.url.startswith("https://") and source.license
            assert source.sha256 == "" or re.fullmatch(r"[0-9a-f]{64}", source.sha256), source.url
            if "/llm-jp/llm-jp-eval/" in source.url:
                assert source.sha256 == ""


def test_cache_survives_reopening_and_keys_depend_on_weights_engine_and_request(tmp_path):
    payload = {"kind": "completion", "prompt": "p", "max_tokens": 1, "temperature": 0.0, "stop": []}
    a = ModelIdentity("m", "sha256:a", "weights", "vllm", "0.11.0", {"dtype": "auto"})
    key = cache_key(a, payload)
    assert key != cache_key(replace(a, fingerprint="sha256:b"), payload)
    assert key != cache_key(replace(a, engine="transformers-serve"), payload)
    assert key != cache_key(replace(a, engine_version="0.12.0"), payload)
    assert key != cache_key(replace(a, settings={"dtype": "bfloat16"}), payload)
    assert key != cache_key(a, {**payload, "max_tokens": 2})
    assert key == cache_key(replace(a, name="another name", served_id="x"), payload)
    cache = GenerationCache(tmp_path / "c.sqlite")
    cache.put(key, "sha256:a", payload, {"text": "0"})
    cache.close()
    reopened = GenerationCache(tmp_path / "c.sqlite")
    assert reopened.get(key) == {"text": "0"}
    assert reopened.get(cache_key(replace(a, fingerprint="sha256:b"), payload)) is None
    assert reopened.count("sha256:a") == 1


def test_a_corrupt_cache_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JevalError, match="cannot be opened"):
        GenerationCache(bad)
