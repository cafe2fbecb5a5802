"""JMMLU, split the way llm-jp-eval v1.4.1 splits it.

Each row (question, four choices, answer letter) becomes `質問：<question>\n選択肢：A.<a>,B.<b>,C.<c>,D.<d>`
→ `<letter>`. With one generator seeded 42, llm-jp-eval shuffles each subject's rows, puts the
first half (rounded down) towards dev and the rest towards test, then shuffles both pools; the
first 32 of the dev pool are train, the rest dev. The order in which subjects are taken decides
the seed-determined split: under llm-jp-eval's prompt text it is the `FILENAMES` list of
llm-jp-eval's own processor module (read as data from that file, like the instruction); under
jeval's own protocol, jeval-jaster-1, the subjects' alphabetical order (whether that equals
llm-jp-eval's list could not be checked). Only the 53 CC BY-SA 4.0 subjects under
`JMMLU/` exist for llm-jp-eval; the three CC BY-NC-ND subjects are not part of it.

The CSV files are pinned at the JMMLU commit checked for jeval; llm-jp-eval v1.4.1 read the
repository's `main` branch at the time it ran.
"""

from __future__ import annotations

import ast
import csv
import random
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits
from jeval.tasks.jaster.upstream import processor_source

COMMIT = "762cbf192c9e4588b574d718f95afd64c96fcbf4"
BASE = f"https://raw.githubusercontent.com/nlp-waseda/JMMLU/{COMMIT}/JMMLU"
LICENSE = "CC BY-SA 4.0"
MODULE = "jmmlu"
NUM_TRAIN = 32
SUBJECT_SHA256 = {
    "abstract_algebra": "f5ffc6aacb7f0d47e0df7084960cadd329c437585954dfbda3c1780945c00e04",
    "anatomy": "55b6d3f04a0bfcbb8673477be004b3bb48fe4c23493f8a0d6a2d64df79f37722",
    "astronomy": "65457f82cd75a82de0c57cfe2933c535023ec7b26e254fd8c12dfd38a38bbbb4",
    "business_ethics": "5c4f7b0f6c3ddc53f9a69fba77310247564de0e5fb4df7af8b6c65ba33c9cb50",
    "clinical_knowledge": "340ee3cf3a025c41925f0e570950faec7fe2a8f34e7877583ee2d61c9509f1cd",
    "college_biology": "b256cd94b9ddde78cbb683ab08fc0ae437e25cf9d1a9fef284aa8bce0e269ecf",
    "college_chemistry": "104d0bd8d1581ab7aeaa5227016a1435b952abae0c8ca6123cadc8fcf25396fd",
    "college_computer_science": "5a9979ef49de49f06ee48e5eae74debc85935e026ee1d896b8107cac60a272b3",
    "college_mathematics": "c41878dff348d5531b81a77cf3a2d1479dcb3d976885fab4ab189b378b871d82",
    "college_medicine": "404232dc8187a548188903a3c28073ce1b629e13b9637bec167279f9c70ca2ab",
    "college_physics": "b6b2a99f6685b8df23b4e00a9ae6bb69166e53b1b8c8e43bf4f22a276ea3e226",
    "computer_security": "a8256e13ed0d5c71372992b9ec8cf54f3311bd71f4f6627e3ea617fadb3396c7",
    "conceptual_physics": "446e38c2b225d7417862bfe7ccb46a0e52af0279b51f832d2e6c8c34707a7bc4",
    "econometrics": "637f4938d16ab853480925ba32c15d8821faf55fc06120eb19efbfc20abd5070",
    "electrical_engineering": "31606d70a21677d9c89b52326ec0dc808d14608183cb0239e76426f25202deac",
    "elementary_mathematics": "789049401d72a70795b95442bca04ea616f7adde94481305acd305c2f349d0e7",
    "formal_logic": "b2f1b18adb9bcbdecbb11b80087d2d1ebe54c2cb55337b0bd3251bee8d4c4fcc",
    "global_facts": "df0337f3b7d2993f99dd0a58bac25e7be41f2e8ea032159b470e2f31cf254657",
    "high_school_biology": "522dd23b3a6cfadbf31ead2bd7b27a029ce8d31a5b18724c3086ea1424cf15dc",
    "high_school_chemistry": "5f3c34254eb683bfbaa9fee304829f935e5256fe2f8bfb7005d3a4baad4ad033",
    "high_school_computer_science": "0daf11091874a29692bb47158e475c91e40fe3bcf83ba4fba2a8a7000913485f",
    "high_school_european_history": "d2197d0e1df46b7eaa98e1922c20fd43a6c76db591eb23c2331a14299493f52b",
    "high_school_geography": "c6ebcb356f6fad1ea19194c787e460a7e0806093c904fedfdee0b560b8849f5f",
    "high_school_macroeconomics": "282fb7857079311d239d842050c213a9137ea3f4c3c94afb8e3ec9de78d98c65",
    "high_school_mathematics": "530acdf4799017fcd0b95f799041dcf80b713018a21a4b9f44518f81a604a234",
    "high_school_microeconomics": "88835e9ca427a951ed2587146e81754f7bbc12d69c5b485e92b96ae0a6efb5f6",
    "high_school_physics": "e8c7a7768c4dde2db7dbf87619fd827f7dc1bdebcddb03ed0627b7c4d1014d2b",
    "high_school_psychology": "868711ac10c9e4eb39b1f116da600791b98246362062945e3335d2dbeb406f22",
    "high_school_statistics": "08781ef77cbddb07c22664ac9ac2707e93c83a42ba87e66d73483a80d75164d3",
    "human_aging": "8ff928a0b6f101ec73161488cccd9dd9739def03767a701cfbdfa34f07d3cffe",
    "human_sexuality": "7e97c9371405ed8c40a3455730bdcb3eb626a116920217ae2a62bfe4148c960d",
    "international_law": "a3ef3d86c6767147901e201cabe255094ccadc28a9d9391e7f9bc3cc4099137b",
    "japanese_history": "231e3dfe06db7dda37baf65b0ae2f54ccb843c6690138a317cd99ae9eb65afed",
    "jurisprudence": "03255e953aff6a79b1935c44389297684acec782a8415a6109deff1abfe92e3d",
    "logical_fallacies": "98ac74e13fe552281155e6992c59d2a2ada1d9197e9a21966619319079aa9f75",
    "machine_learning": "74fcba0fdcd400987ef42aa2c8c50c4bb9cad52352895276e9f5892425767683",
    "management": "5596799bae7a9743126eafd828a3579b9e8d7264a8095f85bf0afd8cd94ae20f",
    "marketing": "fada76ca011b0936cede1c361af9a9961c4038ac59a5e50b7e264d13224fcb79",
    "medical_genetics": "16de20d455995243123c37914b75a452d060b49ba79d5008b1a6d9097d75f537",
    "miscellaneous": "a6546d2b66ff95c02ae886e0f013cf9052d7456641b68fe70088de3b3e1bd32d",
    "moral_disputes": "d1e546585e4e00a06c224370f2f26a591e64566c1ab2771203f438da7d81b7f3",
    "nutrition": "1ca3181b83d348becc17f833edf86f23ab2ac920abd967cbe47a19260b39576f",
    "philosophy": "e7fef1622d103d65ec9f9633f15ae8e884a67258a17645f2c54748252a11c4c9",
    "prehistory": "ce5d447d22b77d2a4a5aab59cbe17953e9f98786db07210829c9205e2c61df92",
    "professional_accounting": "bc55390912cef55b7f0bdfd7e49a727bd032f09ba5b8fd7aeacfa568a20d41f0",
    "professional_medicine": "d00f9ba70cbc51b895db743a260162bc04618471e7c53a41c8804ddcbb035554",
    "professional_psychology": "a87297a0a25d59432deb4015ad14f2c54eecdf8cf2d30293e1e8a8a5499be8fe",
    "public_relations": "863faaef55d3dd614e497d14ea6e1915cc1a7f84abd010a52b98331ab3b3230b",
    "security_studies": "576f811c69923117ab5fb8036bdb81bcff709f75abfb006da5922cc4e446b22b",
    "sociology": "55092ab22dad8c80982fb84b7c6f6e2d33166ecefc0ab210e1b5c1ba8e74fcf9",
    "virology": "e4568515e1a8d2e566d747adaab43db63f51de70533db939eb925d28b452c38f",
    "world_history": "1e6824900650098f51f0e0625d6f7cb5b00dc2bb1d0874b11a7e9344d25a26cb",
    "world_religions": "8c889d25f6ef0733dcb0b5ba44dab91a3ef4e8eb3d9d3ae2d6080457e76acad2",
}
SOURCES = {subject: Source(f"{BASE}/{subject}.csv", sha, LICENSE, status=GITHUB_PINNED)
           for subject, sha in SUBJECT_SHA256.items()}
LETTERS = ("A", "B", "C", "D")


def read_subject_order(path: Path) -> list[str]:
    """The module-level `FILENAMES` list of llm-jp-eval's JMMLU processor."""
    try:
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as e:
        raise JevalError(f"{path}: not a readable Python source file ({e})") from None
    for stmt in module.body:
        target = (stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                  else getattr(stmt, "target", None))
        value = getattr(stmt, "value", None)
        if isinstance(target, ast.Name) and target.id == "FILENAMES" and value is not None:
            try:
                names = ast.literal_eval(value)
            except ValueError:
                names = None
            if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
                raise JevalError(f"{path}:{stmt.lineno}: FILENAMES is not a list of subject names")
            unknown = [n for n in names if n not in SOURCES]
            if unknown:
                raise JevalError(f"{path}: FILENAMES names subjects jeval has no pinned file for: {', '.join(unknown)}")
            return names
    raise JevalError(f"{path}: no module-level FILENAMES list (the JMMLU subjects in llm-jp-eval's order)")


def read_subject(path: Path) -> list[Example]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise JevalError(f"{path}: not readable CSV ({e})") from None
    examples = []
    for n, row in enumerate(rows, 1):
        if len(row) != 6:
            raise JevalError(f"{path}: row {n} has {len(row)} fields, expected question,A,B,C,D,answer")
        if row[5] not in LETTERS:
            raise JevalError(f"{path}: row {n}: the answer must be one of A-D, got {row[5]!r}")
        examples.append(Example(f"質問：{row[0]}\n選択肢：A.{row[1]},B.{row[2]},C.{row[3]},D.{row[4]}", row[5]))
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    rng = random.Random(42)
    dev_pool: list[Example] = []
    test_pool: list[Example] = []
    processor = files.get(processor_source(MODULE).url)
    order = read_subject_order(processor) if processor is not None else sorted(SOURCES)
    for subject in order:
        examples = read_subject(files[SOURCES[subject].url])
        rng.shuffle(examples)
        half = len(examples) // 2
        dev_pool += examples[:half]
        test_pool += examples[half:]
    rng.shuffle(dev_pool)
    rng.shuffle(test_pool)
    return {"train": dev_pool[:NUM_TRAIN], "dev": dev_pool[NUM_TRAIN:], "test": test_pool}


TASKS = [JasterTask(
    name="jmmlu",
    category="HE",
    module=MODULE,
    raw_sources=tuple(SOURCES.values()),
    build_splits=build_splits,
    licence_note="JMMLU (JMMLU/ subjects): CC BY-SA 4.0",
)]
