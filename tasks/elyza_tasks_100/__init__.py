"""ELYZA-tasks-100, answered here and graded by `jeval judge`."""

from jeval.task import Plugin
from jeval.tasks.elyza_tasks_100.task import ElyzaTasks100Task

PLUGIN = Plugin(tasks=(ElyzaTasks100Task(),))
