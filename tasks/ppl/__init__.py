"""Perplexity on corpora: token loss, perplexity, bits per character and bits per byte, per corpus
file and per language, with a sliding window over long documents (`jeval run --tasks ppl
--task-arg ppl.corpus=FILE`, or `--corpus FILE`). `jeval.tasks.ppl.score.evaluate_corpus` gives the
same figures for a model already in memory."""

from jeval.task import Plugin
from jeval.tasks.ppl.task import PplTask

PLUGIN = Plugin(tasks=(PplTask(),))
