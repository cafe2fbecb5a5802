"""The installed lm-eval's version, which names the protocols of the tasks it runs."""

import functools
from importlib.metadata import version


@functools.cache
def lm_eval_version() -> str:
    """Read once per process: the package's metadata is parsed on every `version()` call, and a
    run asks for every task's protocol several times."""
    return version("lm_eval")
