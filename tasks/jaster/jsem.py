"""JSeM (Japanese semantic test suite, v1.0 data), built as llm-jp-eval v1.4.1 builds it.

The problems of the 22 phenomenon files, read in llm-jp-eval's file order, become one list that is
shuffled with seed 42 and cut 80/10/10 into train, dev and test (JSeM has no official split).
Input `前提：{premises}\\n仮説：{hypothesis}`: the `<script>` texts of the `<p>` elements joined with
nothing between them, and that of `<h>`, each stripped of surrounding whitespace as the XML-to-dict
reading llm-jp-eval uses leaves them. Output: the `answer` attribute.

Problems whose answer is empty, `infelicitous`, `unacceptable` or `weakacceptable` (acceptability
judgements, not inference) are left out, as llm-jp-eval leaves them out. `undef` (24 problems)
stays: llm-jp-eval's filter does not name it and its instruction offers it as an answer.

llm-jp-eval downloads the files from the repository's `master` branch; jeval pins the commit whose
files were checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.pair_files import premise_hypothesis
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, shuffled

COMMIT = "c2cd39168e267007b4690dbf625329bac57a8185"
BASE = f"https://raw.githubusercontent.com/DaisukeBekki/JSeM/{COMMIT}/data/v1.0"
LICENSE = "BSD-3-Clause (JSeM LICENSE, Copyright Daisuke Bekki 2019)"
CHECKSUMS = {
    "Adjectives": "15e4dd750516bc82cf16b567d34cb6606374ab70a6b32ba989eef9eeaffd42ba",
    "Adverb": "402eede2d2c5d6e1e59a32919feac05893f894d63e6c88d48f317a07229dbee1",
    "Attitudes": "9418489419be35acc75466ac65b498670558e12069e62ec0fda2e9525743bada",
    "AuxiliaryVerb": "7b2378ce272b9b1c4ccf3d7695702e7e9d291708fdc1910c38e9ef8ef11bc723",
    "CaseParticle": "f200b023e2f4ec0b6a744d9d646a5978a630b50e501cf8ad4a02e1631e7023ad",
    "Comparatives": "33b20f9b9a2a7285168da561befb75c86f934ed108f0082af82b133485b453bb",
    "CompoundAdjective": "02dcb58f0cd89b02428e4c032f4ee22e08ddd3bd16e92279b0abf810c3f47ba9",
    "CompoundVerb": "175d88abcd9496c8b956bdc2a9b50e820a158964d1864c3d62c73bf5b0df9943",
    "Conditional": "8601762d70c2e0c1cd8282788be47b25141f189ede18359a72ba25a386d019ab",
    "Conjunction": "2c78bfdb63332ab303f47e034789f97bd3e36c652bea735892665809694f59b7",
    "Coordination": "14280984787bba7849fa2b085212fba7e67933cdc3532909e18a427f99af1f7b",
    "Ellipsis": "ce5555092dc8ee831dab74727f87acbe004dc25a7e179c09325f698bf1b590f5",
    "GeneralizedQuantifier": "bd61dce7d537af3a214b50ff010f8f1daa39e3e6e62cf9245b70330446d988c2",
    "Modality": "2eff6a7f3ecc523b4f7ffc2c8f07e37974a200dc3c111ffcd547014d00eb2efb",
    "NP": "1a672909f4c9c87aefb7c01caedb14bfa68e8f5b30c3c44ac28d825727befca2",
    "NewAdjective": "ffc576c68d9b3e8298c8a5ac8532c4af18dc911d54e029c9e966eac024b6f56b",
    "NominalAnaphora": "0ef4aa40b1e40e39683a7a4712e3d0a17d70a5e0a6c65bec230b4e880813f9bd",
    "Plurals": "f2a3b044493e0a481168ce748fb519a61dee59b386120d51ac7091417cb54000",
    "Question": "d81a1cdd1d2e0c84c98109cdd44f891ac6f0c718c7c7d5601b069a50580c0f8a",
    "TemporalReference": "1e8799f1c371363d201ec0c1f23f8b150b1ad06e9f007d4ff96427432bcbccde",
    "Toritate": "f4c1cc124de96b310301616f353049914f4d9b9306b86b3322d7e3ebddf2cdec",
    "Verbs": "66e2a4816a7b773db66e4af487e9db2f9d5e9963f1d4d2f958fb9326dd6eb0b1",
}
SOURCES = tuple(Source(f"{BASE}/{name}.xml", sha, LICENSE, status=GITHUB_PINNED) for name, sha in CHECKSUMS.items())
ANSWERS = ("yes", "no", "unknown", "undef")
LEFT_OUT = ("", "infelicitous", "unacceptable", "weakacceptable")
TRAIN_END, DEV_END = 0.8, 0.9


def _script(element: ET.Element, where: str) -> str:
    """The text of the element's one `<script>` child, stripped."""
    scripts = element.findall("script")
    if len(scripts) != 1:
        raise JevalError(f"{where}: <{element.tag}> needs one <script>, found {len(scripts)}")
    if len(scripts[0]):
        raise JevalError(f"{where}: <{element.tag}><script> holds markup, expected plain text")
    text = (scripts[0].text or "").strip()
    if not text:
        raise JevalError(f"{where}: <{element.tag}><script> is empty")
    return text


def read_problems(path: Path) -> list[Example]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        line, _ = e.position
        raise JevalError(f"{path}:{line}: not well-formed XML ({e})") from None
    except FileNotFoundError:
        raise JevalError(f"{path}: file not found") from None
    if root.tag != "jsem-dataset":
        raise JevalError(f"{path}: the root element is <{root.tag}>, expected <jsem-dataset>")
    examples = []
    for n, problem in enumerate(root.findall("problem"), 1):
        where = f"{path}: problem {n} (jsem_id {problem.get('jsem_id', '?')})"
        answer = problem.get("answer")
        if answer is None:
            raise JevalError(f"{where}: no answer attribute")
        if answer in LEFT_OUT:
            continue
        if answer not in ANSWERS:
            raise JevalError(f"{where}: answer {answer!r} is not one of {', '.join(ANSWERS + LEFT_OUT[1:])}")
        premises = problem.findall("p")
        hypotheses = problem.findall("h")
        if not premises or len(hypotheses) != 1:
            raise JevalError(f"{where}: expected one or more <p> and one <h>, "
                             f"found {len(premises)} and {len(hypotheses)}")
        premise = "".join(_script(p, where) for p in premises)
        examples.append(Example(premise_hypothesis(premise, _script(hypotheses[0], where)), answer))
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    examples = shuffled([e for source in SOURCES for e in read_problems(files[source.url])])
    train_end, dev_end = int(len(examples) * TRAIN_END), int(len(examples) * DEV_END)
    return {"train": examples[:train_end], "dev": examples[train_end:dev_end], "test": examples[dev_end:]}


TASKS = [JasterTask(name="jsem", category="NLI", module="jsem", raw_sources=SOURCES, build_splits=build_splits,
                    licence_note="JSeM's LICENSE is a BSD-3-Clause text; its README states no licence")]
