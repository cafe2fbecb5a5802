"""JHumanEval: HumanEval with Japanese docstrings, pass@k, generated code scored in sandboxes."""

from jeval.task import Plugin
from jeval.tasks.jhumaneval.task import JHumanEvalTask

PLUGIN = Plugin(tasks=(JHumanEvalTask(),))
