"""The Japanese Vicuna QA benchmark (ku-nlp), answered here and judged by `jeval judge`."""

from jeval.task import Plugin
from jeval.tasks.ja_vicuna_qa.task import JaVicunaQATask

PLUGIN = Plugin(tasks=(JaVicunaQATask(),))
