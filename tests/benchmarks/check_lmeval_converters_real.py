"""Item counts of the lm-eval task converters on the real upstream files (JGLUE v1.1, MGSM ja),
against the counts those files are known to hold. Not a test: the data is not shipped with jeval.

    python tests/benchmarks/check_lmeval_converters_real.py REALDATA_DIR   # holds jglue/ and mgsm/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jeval.tasks.japanese_leaderboard import convert

EXPECTED = (
    ("jcommonsenseqa train", convert.jcommonsenseqa, "jglue/jcommonsenseqa-v1.1/train-v1.1.json", 8939),
    ("jcommonsenseqa valid", convert.jcommonsenseqa, "jglue/jcommonsenseqa-v1.1/valid-v1.1.json", 1119),
    ("jnli valid", convert.jnli, "jglue/jnli-v1.1/valid-v1.1.json", 2434),
    ("jsquad valid", convert.jsquad, "jglue/jsquad-v1.1/valid-v1.1.json", 4442),
    ("mgsm ja test", convert.mgsm_test, "mgsm/mgsm_ja.tsv", 250),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("realdata", type=Path)
    args = parser.parse_args()
    wrong = 0
    for label, converter, relative, expected in EXPECTED:
        found = len(converter(args.realdata / relative))
        wrong += found != expected
        print(f"{label}: {found} items (expected {expected}){'' if found == expected else '  MISMATCH'}")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
