"""Japanese MT-Bench (Stability-AI's translation of MT-Bench), generated here and graded by `jeval judge`."""

from jeval.task import Plugin
from jeval.tasks.jmt_bench.task import JMTBenchTask

PLUGIN = Plugin(tasks=(JMTBenchTask(),))
