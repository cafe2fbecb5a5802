"""JGLUE, JAQKET, XL-Sum ja, MGSM ja and XWinograd ja as lm-eval's `japanese_leaderboard` group
asks them, run by lm-eval itself on jeval's prepared data, model and cache; and any other lm-eval
task as `lm-eval:<task or group>`."""

from jeval.task import Plugin
from jeval.tasks.japanese_leaderboard.anytask import PREFIX, any_task
from jeval.tasks.japanese_leaderboard.summary import suite
from jeval.tasks.japanese_leaderboard.tasks import JGLUE_TASKS, LEADERBOARD_TASKS, TASKS

PLUGIN = Plugin(
    tasks=TASKS,
    groups={"jglue": JGLUE_TASKS, "ja_leaderboard": LEADERBOARD_TASKS,
            "jl_mgsm_variants": ("jl_mgsm", "jl_mgsm_direct", "jl_mgsm_native_cot")},
    suites=(suite("jglue", "JGLUE mean", JGLUE_TASKS),
            suite("ja_leaderboard", "ja_leaderboard mean", LEADERBOARD_TASKS)),
    resolvers={PREFIX: any_task},
)
