"""Shared parts of the single-turn chat benchmarks graded by `jeval judge`: ELYZA-tasks-100
(`elyza_tasks_100`), Rakuda (`rakuda`) and the Japanese Vicuna QA benchmark (`ja_vicuna_qa`).

The tasks themselves live in their own plugin folders; this one holds their common reading,
request and answer-writing code (jeval.tasks.chat_bench.files, jeval.tasks.chat_bench.task) and
declares the `chat_bench` group, which names the three.
"""

from jeval.task import Plugin

PLUGIN = Plugin(groups={"chat_bench": ("elyza_tasks_100", "rakuda", "ja_vicuna_qa")})
