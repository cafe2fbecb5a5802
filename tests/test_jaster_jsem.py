"""JSeM as llm-jp-eval v1.4.1 prepares it: the problems of the 22 phenomenon files in its file
order, acceptability judgements (answers '', infelicitous, unacceptable, weakacceptable) left out,
shuffled with seed 42 and cut 80/10/10 into train, dev and test. Premises are joined with nothing
between them; every script text is stripped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from jaster_pair_support import GITHUB, pairs, prepare, prepare_fails, replace_on_mirror, seed42_order

from jeval.errors import JevalError
from jeval.tasks.jaster import jsem

BASE = f"{GITHUB}/DaisukeBekki/JSeM/c2cd39168e267007b4690dbf625329bac57a8185/data/v1.0"
ORDER = ["Adjectives", "Adverb", "Attitudes", "AuxiliaryVerb", "CaseParticle", "Comparatives", "CompoundAdjective",
         "CompoundVerb", "Conditional", "Conjunction", "Coordination", "Ellipsis", "GeneralizedQuantifier", "Modality",
         "NP", "NewAdjective", "NominalAnaphora", "Plurals", "Question", "TemporalReference", "Toritate", "Verbs"]


def fixture_problems(root):
    """(premise scripts, hypothesis script, answer) of every fixture problem, in llm-jp-eval's file order."""
    out = []
    for name in ORDER:
        out.extend(([p.findtext("script") for p in problem.findall("p")], problem.find("h").findtext("script"),
                    problem.get("answer"))
                   for problem in ET.parse(root / f"{BASE}/{name}.xml").getroot().iter("problem"))
    return out


def test_prepared_splits_follow_llm_jp_eval(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    splits = prepare("jsem", url, tmp_path / "data")
    kept = [(f"前提：{''.join(s.strip() for s in ps)}\n仮説：{h.strip()}", answer)
            for ps, h, answer in fixture_problems(root) if answer in ("yes", "no", "unknown", "undef")]
    assert len(kept) == 48
    everything = seed42_order(kept)
    assert pairs(splits["train"]) == everything[:38]
    assert pairs(splits["dev"]) == everything[38:43]
    assert pairs(splits["test"]) == everything[43:]
    for split in splits.values():
        assert split["output_length"] == 3 and split["metrics"] == ["exact_match"]


def test_filters_joins_and_strips_as_llm_jp_eval_does(jaster_mirror, tmp_path):
    _, url = jaster_mirror
    splits = prepare("jsem", url, tmp_path / "data")
    produced = [p for split in splits.values() for p in pairs(split)]
    assert Counter(output for _, output in produced) == {"yes": 16, "no": 16, "unknown": 15, "undef": 1}
    assert ("前提：全ての学生が試験に合格した。太郎は学生だ。\n仮説：太郎は試験に落ちた。", "no") in produced
    assert ("前提：桜は港で船を見た。\n仮説：桜は船を見た。", "yes") in produced
    assert ("前提：彼はそれを見た。\n仮説：花子は何かを見た。", "undef") in produced
    assert not [i for i, _ in produced if "ゆっくり急いだ" in i or "走らされた" in i or "歌える" in i]


def test_pins_all_22_files_at_a_commit():
    assert [s.url for s in jsem.SOURCES] == [f"https://{BASE}/{name}.xml" for name in ORDER]
    assert all(len(s.sha256) == 64 for s in jsem.SOURCES)


def test_xml_that_is_not_well_formed_names_file_and_line(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    path = f"{BASE}/Modality.xml"
    replace_on_mirror(root, path, (root / path).read_text(encoding="utf-8").replace("</h>", "</hypothesis>", 1))
    line = prepare_fails("jsem", url, tmp_path / "data")
    assert "Modality.xml:13: not well-formed XML (mismatched tag: line 13" in line


def test_problem_without_hypothesis_or_with_unknown_answer_is_named(jaster_mirror):
    root, _ = jaster_mirror
    text = (root / f"{BASE}/Verbs.xml").read_text(encoding="utf-8")
    no_h = root / "no_h.xml"
    no_h.write_text(text.replace("<h>", "<q>", 1).replace("</h>", "</q>", 1), encoding="utf-8")
    with pytest.raises(JevalError, match=r"no_h\.xml: problem 1 \(jsem_id \d+\): expected one or more <p> and one <h>"):
        jsem.read_problems(no_h)
    odd = root / "odd.xml"
    odd.write_text(text.replace('answer="', 'answer="maybe', 1), encoding="utf-8")
    with pytest.raises(JevalError, match=r"odd\.xml: problem 1 \(jsem_id \d+\): answer '\w+' is not one of yes, no"):
        jsem.read_problems(odd)
