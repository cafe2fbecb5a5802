"""Rakuda (yuzu-ai's Japanese question set, v2), answered here and judged pairwise by `jeval judge`."""

from jeval.task import Plugin
from jeval.tasks.rakuda.task import RakudaTask

PLUGIN = Plugin(tasks=(RakudaTask(),))
