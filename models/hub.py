"""`jeval run --model ORG/NAME[@REVISION]` and `jeval serve --model ORG/NAME[@REVISION]`: a Hugging
Face Hub model id where no folder of that name exists here. The checkpoint's files (config,
tokenizer, safetensors weights, generation config, chat template) are downloaded into the Hugging
Face cache with `huggingface_hub.snapshot_download` (HF_HOME / HF_HUB_CACHE, HF_ENDPOINT and a
token from `huggingface-cli login` are respected; HF_HUB_OFFLINE=1 reads the cache only), and the
run or server goes on with the snapshot folder as with any checkpoint folder: its fingerprint is
computed from the files. The repo id and the commit the revision resolved to are kept for the
model record (`jeval serve` prints them, and the `jeval run --base-url` line it suggests passes
them on as --name and --model-revision).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from jeval.errors import JevalError

log = logging.getLogger(__name__)

HUB_ID = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?")
CHECKPOINT_FILES = ["config.json", "generation_config.json", "*.safetensors", "*.safetensors.index.json",
                    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                    "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "*.tiktoken",
                    "chat_template.jinja", "chat_template.json", "additional_chat_templates/*"]
"""What a checkpoint needs to be served and fingerprinted: no other weight formats, no READMEs."""
TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class HubCheckpoint:
    repo_id: str
    commit: str
    """The commit the asked revision resolved to (the snapshot's folder name)."""
    folder: Path

    @property
    def revision(self) -> str:
        """The model record's revision: `ORG/NAME@COMMIT`, the repo and the exact commit."""
        return f"{self.repo_id}@{self.commit}"


def hub_id(given: str) -> tuple[str, str | None] | None:
    """(repo id, revision or None) where `given` names a Hub model rather than a folder here:
    nothing exists at that path and it reads `ORG/NAME[@REVISION]`."""
    if Path(given).expanduser().exists() or given.startswith((".", "/", "~")):
        return None
    found = HUB_ID.fullmatch(given)
    if found is None:
        return None
    return found["repo"], found["revision"]


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", os.environ.get("TRANSFORMERS_OFFLINE", "")).strip().lower() in TRUE


def download(repo_id: str, revision: str | None = None) -> HubCheckpoint:
    """The checkpoint files of `repo_id` at `revision` (default: main), from the cache or the Hub."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    named = f"{repo_id}@{revision}" if revision else repo_id
    is_offline = offline()
    endpoint = os.environ.get("HF_ENDPOINT") or None
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=CHECKPOINT_FILES,
                                        local_files_only=is_offline, endpoint=endpoint))
    except GatedRepoError:
        raise JevalError(f"{repo_id} is gated on the Hub: accept its licence on its page, then log in with "
                         "`huggingface-cli login`") from None
    except RevisionNotFoundError:
        raise JevalError(f"{repo_id} has no revision {revision!r} on the Hub") from None
    except RepositoryNotFoundError:
        raise JevalError(f"no model {repo_id} on the Hub (or it is gated: log in with `huggingface-cli login`)") \
            from None
    except LocalEntryNotFoundError:
        if is_offline:
            raise JevalError(f"{named} is not in the local Hugging Face cache and the machine is offline "
                             "(HF_HUB_OFFLINE is set); download it once online, or pass a checkpoint folder") \
                from None
        raise JevalError(f"cannot reach the Hub ({endpoint or 'https://huggingface.co'}) to download {named}, and it "
                         "is not in the local Hugging Face cache") from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        if status in (401, 403):
            raise JevalError(f"{repo_id}: the Hub refused access (HTTP {status}); it is gated or private: accept its "
                             "licence on its page and log in with `huggingface-cli login`") from None
        raise JevalError(f"downloading {named} from the Hub failed: {' '.join(str(e).split())[:300]}") from None
    if not any(folder.glob("*.safetensors")):
        raise JevalError(f"{named} has no safetensors weights on the Hub (jeval loads only safetensors checkpoints)")
    checkpoint = HubCheckpoint(repo_id, folder.name, folder)
    log.info("model %s: commit %s, in %s", named, checkpoint.commit, folder)
    return checkpoint


def checkpoint_of(given: Path | None) -> HubCheckpoint | None:
    """`--model` as a Hub model id, downloaded (None: a folder here, or not a Hub id)."""
    if given is None:
        return None
    found = hub_id(str(given))
    if found is None:
        return None
    return download(*found)
