"""Jaster: llm-jp-eval v1.4.1's suite of Japanese datasets, asked in the generation style."""

from jeval.task import Plugin
from jeval.tasks.jaster.suite import SUITE, build_groups, build_tasks

PLUGIN = Plugin(tasks=tuple(build_tasks()), groups=build_groups(), suites=(SUITE,))
