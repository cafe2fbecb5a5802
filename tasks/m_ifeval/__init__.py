"""M-IFEval, Japanese subset: instruction following checked by rules."""

from jeval.task import Plugin
from jeval.tasks.m_ifeval.task import MIFEvalJaTask

PLUGIN = Plugin(tasks=(MIFEvalJaTask(),))
