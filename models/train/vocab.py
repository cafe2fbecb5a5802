"""Vocabulary extension of an existing checkpoint (e.g. Japanese pieces for an English model).

New pieces come from a SentencePiece model trained on the new corpus; those the old tokenizer
lacks are added as tokens. Tokens the model already had keep their embeddings untouched; a new
token's input and output embeddings start as the mean of the old embeddings of the pieces the
old tokenizer split it into, so the extended model's first predictions are close to the old
model's instead of random.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import cast

import torch
from transformers import AddedToken, PreTrainedModel, PreTrainedTokenizerBase

from jeval.models.train.tokenizer import train_tokenizer

log = logging.getLogger(__name__)


def embedding_weight(module: torch.nn.Module) -> torch.Tensor:
    """The weight of an embedding module (torch types a module's attributes as Tensor | Module)."""
    return cast(torch.Tensor, module.weight)


def candidate_pieces(texts: Iterable[str], n: int, mecab: bool = False) -> list[str]:
    """Up to `n` multi-character pieces learnt from `texts`, most useful first. Pieces carrying
    SentencePiece's word-boundary mark and byte pieces are left out: they are not plain text."""
    learnt = train_tokenizer(texts, vocab_size=max(n * 2, 300), mecab=mecab)
    vocab = sorted(learnt.get_vocab().items(), key=lambda kv: kv[1])
    pieces = [p for p, _ in vocab if len(p) >= 2 and "\u2581" not in p and not p.startswith("<")]
    return pieces[: n * 2]


def old_piece_ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False).input_ids
    space = tokenizer.convert_tokens_to_ids("\u2581")
    return ids[1:] if len(ids) > 1 and ids[0] == space else ids


def extend_vocabulary(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pieces: list[str],
                      limit: int) -> list[str]:
    """Add up to `limit` of `pieces` the tokenizer does not know as single tokens; resize the
    model and initialise the new rows. Returns the tokens added."""
    known = set(tokenizer.get_vocab())
    new: list[tuple[str, list[int]]] = []
    for piece in pieces:
        if piece in known or len(new) >= limit:
            continue
        ids = old_piece_ids(tokenizer, piece)
        if len(ids) > 1:
            new.append((piece, ids))
    if not new:
        return []
    old_size = embedding_weight(model.get_input_embeddings()).shape[0]
    tokenizer.add_tokens([AddedToken(p, normalized=False, special=False) for p, _ in new])
    model.resize_token_embeddings(max(old_size, len(tokenizer)), mean_resizing=False)
    with torch.no_grad():
        tables = [embedding_weight(model.get_input_embeddings())]
        output = model.get_output_embeddings()
        if output is not None and output.weight.data_ptr() != tables[0].data_ptr():
            tables.append(output.weight)
        for piece, ids in new:
            row = tokenizer.convert_tokens_to_ids(piece)
            for table in tables:
                table[row] = table[torch.tensor(ids)].mean(dim=0)
    log.info("vocabulary extended from %d to %d tokens", old_size, len(tokenizer))
    return [p for p, _ in new]
