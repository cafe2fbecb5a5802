"""The installed lm-eval's version, which names the protocols of the tasks it runs."""

from importlib.metadata import version


def lm_eval_version() -> str:
    return version("lm_eval")
