"""Where prepared files came from, and what that makes of a run's protocol name.

`jeval data prepare` records an origin for every source file it used:

- `upstream`: downloaded from the file's own URL (checked against its pinned SHA-256 if it has one);
- `verified`: read from a mirror (or an earlier download) and equal to upstream's pinned SHA-256;
- `standin`: read from a mirror whose `jeval-mirror.json` gives its own checksum for the file (the
  project's sample files, a patched file): not upstream's text;
- `unverified`: read from a mirror, or found already downloaded, with no pin to check it against;
- `preprocessed`: llm-jp-eval's own preprocessed evaluation files (`--jaster-dir`);
- `checkout`: read from a local checkout of the upstream tool whose version was confirmed
  (`--llm-jp-eval-dir`);
- `own`: no file: the prompt text is jeval's own wording, part of jeval's own protocol
  (`jeval-jaster-1`), so the protocol name itself says whose text it is.

A protocol name such as `llm-jp-eval-1.4.1` promises the upstream prompt text. Where any file that
defines prompt text (`Source.defines_prompt`: instructions, prompt frames, few-shot exemplars) is
a stand-in or unverified, the run's protocol gets a suffix saying so (`+standin-prompts`,
`+unverified-prompts`), so such scores never share a column, a suite mean or a label with
upstream-prompt scores. Data from a mirror's stand-in files (the project's own sample questions)
gives `+standin-data`, whatever the prompt text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

Origin = Literal["upstream", "verified", "standin", "unverified", "preprocessed", "checkout", "own"]
TRUSTED: tuple[str, ...] = ("upstream", "verified", "preprocessed", "checkout")
SUFFIXES = {"standin": "+standin-prompts", "unverified": "+unverified-prompts"}
DATA_SUFFIX = "+standin-data"
DATA_EXPLAINED = ("the test items came from a mirror's stand-in files (such as jeval's own sample questions), not "
                  "from the benchmark's data")
EXPLAINED = {
    "standin": "the prompt text (instructions, prompt frame or few-shot exemplars) came from a mirror's stand-in "
               "files, not from upstream",
    "unverified": "the prompt text came from files that could not be checked against upstream (a mirror or an "
                  "earlier download, with no pinned checksum)",
}


def overall(origins: Iterable[str]) -> str:
    """One origin for several files: the least trustworthy of them."""
    found = set(origins)
    if not found:
        return "upstream"
    for worst in ("standin", "unverified"):
        if worst in found:
            return worst
    if found <= set(TRUSTED):
        return found.pop() if found in ({"preprocessed"}, {"checkout"}) else "upstream"
    return "unverified"


def _origin_of(source: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """A source's recorded origin; for manifests written before origins were recorded, "verified"
    where its bytes equal the pinned upstream checksum, else (stand-in or unknown) not trusted."""
    origin = source.get("origin")
    if isinstance(origin, str):
        return origin
    if source.get("pinned_sha256") and source.get("pinned_sha256") == source.get("sha256"):
        return "verified"
    return "standin" if manifest.get("checksums_from_mirror") else "unverified"


def prompt_source(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Where a prepared task's prompt text and data came from, from its manifest."""
    sources = [s for s in manifest.get("sources", []) if isinstance(s, Mapping)]
    prompt_files = [s for s in sources if s.get("defines_prompt")]
    data_files = [s for s in sources if not s.get("defines_prompt")]
    prompt_origins = [_origin_of(s, manifest) for s in prompt_files]
    if manifest.get("preprocessed_from"):
        prompt_origins.append("preprocessed")
    origin = "own" if manifest.get("prompt_text") == "jeval" else overall(prompt_origins)
    return {
        "origin": origin,
        "data_origin": overall(_origin_of(s, manifest) for s in data_files),
        "files": [{"url": s.get("url"), "origin": _origin_of(s, manifest)} for s in prompt_files],
        **({"preprocessed_from": manifest["preprocessed_from"]} if manifest.get("preprocessed_from") else {}),
        **({"note": EXPLAINED[origin]} if origin in EXPLAINED else {}),
    }


def protocol_with_source(protocol: str, source: Mapping[str, Any]) -> str:
    """The protocol name a run may claim, given where its prompt text and data came from."""
    data = DATA_SUFFIX if source.get("data_origin") == "standin" else ""
    return protocol + SUFFIXES.get(str(source.get("origin", "upstream")), "") + data


def base_protocol(protocol: str) -> str:
    """The protocol name without its prompt-source and data suffixes."""
    for suffix in (DATA_SUFFIX, *SUFFIXES.values()):
        protocol = protocol.removesuffix(suffix)
    return protocol


def suffixes_of(protocols: Iterable[str]) -> str:
    """The prompt-source and data suffixes found among `protocols`, in one canonical order: what
    a score over all of them (a suite mean) must carry."""
    found = list(protocols)
    return "".join(s for s in (*SUFFIXES.values(), DATA_SUFFIX) if any(s in p for p in found))


def suffix_notes(protocols: Iterable[str]) -> list[str]:
    """What each prompt-source and data suffix found among `protocols` means, for tables and pages."""
    protocols = list(protocols)
    notes = []
    for origin, suffix in SUFFIXES.items():
        if any(suffix in p for p in protocols):
            notes.append(f"`{suffix}` in a protocol name: {EXPLAINED[origin]}; these are not scores under the "
                         "upstream protocol and are never averaged with them.")
    if any(DATA_SUFFIX in p for p in protocols):
        notes.append(f"`{DATA_SUFFIX}` in a protocol name: {DATA_EXPLAINED}; these are not benchmark scores.")
    return notes
