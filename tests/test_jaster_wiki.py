"""The five Jaster FA datasets built from the Wikipedia Annotated Corpus (wiki_reading, wiki_ner,
wiki_dependency, wiki_pas, wiki_coreference) through `jeval data prepare`, from fixture KNP
documents written for these tests in the corpus's format and served as the corpus's GitHub
archive; the instruction, output length and metrics come from the fixture processor modules.

Train has wiki00100001 (a parenthesised part split off into its own sentence, an exophoric
argument), wiki00100002 (an acronym and a Latin word) and wiki00280639 (the sentence of
llm-jp-eval's own tests, with its parenthesised reading, annotated here so that each task's
sample equals the one llm-jp-eval's tests expect for that document); dev
and test have two documents each, one of them with nothing for some tasks (dropped there)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import JASTER_FIXTURES, SAMPLES, jeval
from jaster_converters_support import pairs, prepare_fails, replace_on_mirror

TAGS = "github.com/ku-nlp/WikipediaAnnotatedCorpus/archive/refs/tags"
ARCHIVE = f"{TAGS}/v1.1.2.zip"
CONTENTS = JASTER_FIXTURES / TAGS / "v1.1.2-contents"
ROOT = "WikipediaAnnotatedCorpus-1.1.2"
PROCESSORS = "raw.githubusercontent.com/llm-jp/llm-jp-eval/v1.4.1/src/llm_jp_eval/jaster/wiki"
NAMES = ("wiki_reading", "wiki_ner", "wiki_dependency", "wiki_pas", "wiki_coreference")


def build_archive(contents: Path) -> bytes:
    """The fixture folder as GitHub lays out a tag archive (folders first, fixed timestamps), so
    the committed zip can be rebuilt byte for byte: `build_archive(CONTENTS)`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(contents.rglob("*")):
            name = path.relative_to(contents).as_posix() + ("/" if path.is_dir() else "")
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o40755 if path.is_dir() else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, b"" if path.is_dir() else path.read_bytes())
    return buf.getvalue()


def archive_with(changes: dict[str, str | None]) -> bytes:
    """The fixture archive with some members replaced (text) or removed (None)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(build_archive(CONTENTS))) as source, zipfile.ZipFile(buf, "w") as target:
        for info in source.infolist():
            member = info.filename.removeprefix(f"{ROOT}/")
            if member in changes:
                if changes[member] is not None:
                    target.writestr(info, changes[member].encode())
                continue
            target.writestr(info, source.read(info))
    return buf.getvalue()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """The five datasets prepared once from a mirror folder of the fixtures (tests must not change it)."""
    from jeval.data.download import sha256_file

    root = tmp_path_factory.mktemp("wiki-mirror")
    shutil.copytree(SAMPLES, root, dirs_exist_ok=True)
    shutil.copytree(JASTER_FIXTURES, root, dirs_exist_ok=True)
    checksums = {f"https://{p.relative_to(root).as_posix()}": sha256_file(p)
                 for p in root.rglob("*") if p.is_file() and p.name not in ("jeval-mirror.json", "README.md")}
    (root / "jeval-mirror.json").write_text(json.dumps({"checksums": checksums}))
    data = tmp_path_factory.mktemp("wiki-data")
    proc = jeval("data", "prepare", "jaster_fa", "--prompts", "llm-jp-eval", "--mirror", root, "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in data.iterdir() if p.name != "raw"} == set(NAMES)
    return data


def splits(data: Path, name: str) -> dict[str, dict]:
    return {split: json.loads((data / name / f"{split}.json").read_text(encoding="utf-8"))
            for split in ("train", "dev", "test")}


def check_frame(produced: dict[str, dict], instruction: str, output_length: int, metrics: list[str]) -> None:
    for split in produced.values():
        assert (split["instruction"], split["output_length"], split["metrics"]) == (instruction, output_length, metrics)


LIBRARY = "アメリカ議会図書館は、アメリカ合衆国の事実上の国立図書館。"
KYOTO = "京都大学は1897年に設立された。"
NHK = "NHKはNewsを放送する。"
RIVER = "川は海へ流れる。"
TARO = "太郎は本を買った。彼はそれを読んだ。"
TOWER = "東京タワーは1958年に完成した。"
HANAKO = "花子は駅で友人に会った。その友人は喜んだ。"


def test_the_jaster_suite_builds_the_five_from_the_corpus_archive():
    proc = jeval("data", "sources", "jaster", "--json")
    assert proc.returncode == 0, proc.stderr
    archive_users = {s["task"] for s in json.loads(proc.stdout) if s["url"] == f"https://{ARCHIVE}"}
    assert archive_users == set(NAMES)


def test_the_committed_archive_is_built_from_its_contents_folder():
    assert (JASTER_FIXTURES / ARCHIVE).read_bytes() == build_archive(CONTENTS)


def test_reading_spells_documents_in_hiragana(prepared):
    produced = splits(prepared, "wiki_reading")
    check_frame(produced, "文章の読みを、ひらがなだけで書いてください。", 512, ["char_f1"])
    assert pairs(produced["train"]) == [
        (KYOTO, "きょうとだいがくは1897ねんにせつりつされた。"),
        (NHK, "えぬえいちけーはNewsをほうそうする。"),
        # llm-jp-eval's own expectation for this document.
        (LIBRARY, "あめりかぎかいとしょかんは、あめりかがっしゅうこくのじじつじょうのこくりつとしょかん。"),
    ]
    assert pairs(produced["dev"]) == [(RIVER, "かわはうみへながれる。"),
                                      (TARO, "たろうはほんをかった。かれはそれをよんだ。")]
    assert pairs(produced["test"]) == [
        (TOWER, "とうきょうたわーは1958ねんにかんせいした。"),
        (HANAKO, "はなこはえきでゆうじんにあった。そのゆうじんはよろこんだ。"),
    ]


def test_ner_names_categories_from_the_processor_table_and_restores_parentheses(prepared):
    produced = splits(prepared, "wiki_ner")
    check_frame(produced, "文章中の固有表現（組織名・人名・地名・固有物名・日付表現・時刻表現・金額表現・割合表現）"
                          "を挙げてください。\n書式は「表現A（種類） 表現B（種類）」です。", 256, ["set_f1"])
    assert pairs(produced["train"]) == [
        ("京都大学（京大）は1897年に設立された。", "京都大学（組織名） 1897年（日付表現） 京大（組織名）"),
        (NHK, "NHK（組織名）"),
        # llm-jp-eval's own expectation for this document.
        ("アメリカ議会図書館（アメリカぎかいとしょかん）は、アメリカ合衆国の事実上の国立図書館。",
         "アメリカ合衆国（地名）"),
    ]
    assert pairs(produced["dev"]) == [(TARO, "太郎（人名）")]  # the river document names nothing
    assert pairs(produced["test"]) == [(TOWER, "東京タワー（固有物名） 1958年（日付表現）"), (HANAKO, "花子（人名）")]


def test_dependency_lists_each_phrase_and_its_head(prepared):
    produced = splits(prepared, "wiki_dependency")
    check_frame(produced, "文節ごとに、係り先の文節を一行ずつ書いてください。\n文節A -> 文節B", 512, ["set_f1"])
    assert pairs(produced["train"]) == [
        (KYOTO, "京都大学は -> 設立された。\n1897年に -> 設立された。"),
        (NHK, "NHKは -> 放送する。\nNewsを -> 放送する。"),
        # llm-jp-eval's own expectation for this document.
        (LIBRARY, "アメリカ議会図書館は、 -> 国立図書館。\nアメリカ合衆国の -> 国立図書館。\n事実上の -> 国立図書館。"),
    ]
    assert pairs(produced["dev"]) == [
        (RIVER, "川は -> 流れる。\n海へ -> 流れる。"),
        (TARO, "太郎は -> 買った。\n本を -> 買った。\n彼は -> 読んだ。\nそれを -> 読んだ。"),
    ]
    assert pairs(produced["test"]) == [
        (TOWER, "東京タワーは -> 完成した。\n1958年に -> 完成した。"),
        (HANAKO, "花子は -> 会った。\n駅で -> 会った。\n友人に -> 会った。\nその -> 友人は\n友人は -> 喜んだ。"),
    ]


def test_pas_lists_predicates_with_their_written_arguments_in_case_order(prepared):
    produced = splits(prepared, "wiki_pas")
    check_frame(produced, "述語ごとに、その項を格とともに一行ずつ書いてください。\n述語 ガ：項 ヲ：項", 512, ["set_f1"])
    assert pairs(produced["train"]) == [
        # The exophoric ガ (不特定:人) is not written in the text.
        ("京都大学（京大）は1897年に設立された。", "設立された ヲ：京都大学"),
        (NHK, "放送する ガ：NHK ヲ：News"),
        # llm-jp-eval's own expectation for this document.
        ("アメリカ議会図書館（アメリカぎかいとしょかん）は、アメリカ合衆国の事実上の国立図書館。",
         "国立図書館 ガ：アメリカ議会図書館"),
    ]
    assert pairs(produced["dev"]) == [(RIVER, "流れる ガ：川 ヘ：海"),
                                      (TARO, "買った ガ：太郎 ヲ：本\n読んだ ガ：彼 ヲ：それ")]
    assert pairs(produced["test"]) == [(TOWER, "完成した ガ：東京タワー"),
                                       (HANAKO, "会った ガ：花子 デ：駅 ニ：友人\n喜んだ ガ：友人")]


def test_coreference_lists_clusters_of_two_or_more_mentions(prepared):
    produced = splits(prepared, "wiki_coreference")
    check_frame(produced, "同じものを指す言い回しを、まとまりごとに一行ずつ書いてください。\n言い回しA 言い回しB", 256,
                ["set_f1"])
    # llm-jp-eval's own expectation for this document; the Kyoto document's only link goes into its
    # parenthesised part, which is left out, so it has no cluster.
    assert pairs(produced["train"]) == [(LIBRARY, "アメリカ アメリカ合衆国\nアメリカ議会図書館 国立図書館")]
    assert pairs(produced["dev"]) == [(TARO, "太郎 彼\n本 それ")]
    assert pairs(produced["test"]) == [(HANAKO, "友人 友人")]


def test_a_malformed_knp_document_is_an_error_naming_it(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    broken = "# S-ID:wiki00300001-01\n* -1D\n+ -1D\nこれは形態素の行ではない\nEOS\n"
    replace_on_mirror(root, ARCHIVE, archive_with({"knp/wiki0030/wiki00300001.knp": broken}))
    line = prepare_fails("wiki_dependency", url, tmp_path / "data")
    assert f"v1.1.2.zip:{ROOT}/knp/wiki0030/wiki00300001.knp: not a readable KNP document" in line
    assert "これは形態素の行ではない" in line


def test_a_document_listed_but_missing_is_an_error(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    replace_on_mirror(root, ARCHIVE, archive_with({"knp/wiki0020/wiki00200001.knp": None}))
    line = prepare_fails("wiki_reading", url, tmp_path / "data")
    assert "id/dev.id lists document wiki00200001, but the archive has no knp/wiki0020/wiki00200001.knp" in line


def test_an_unknown_processor_form_is_an_error_naming_the_line(jaster_mirror, tmp_path):
    """The instruction is read, never run: an expression outside the understood forms is refused."""
    root, url = jaster_mirror
    path = root / PROCESSORS / "pas.py"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "            ).rstrip(),", "            ).rstrip() + open('/etc/hostname').read(),"), encoding="utf-8")
    replace_on_mirror(root, f"{PROCESSORS}/pas.py", path.read_bytes())
    line = prepare_fails("wiki_pas", url, tmp_path / "data", "--prompts", "llm-jp-eval")
    assert "pas.py:" in line and "expected a literal value" in line and "open(" in line


def test_several_parenthesised_parts_go_back_each_at_its_offset_in_the_text_restored_so_far():
    """As the corpus counts them (KNP's parenthesis merge): a later part's offset counts the
    earlier parts, brackets included; in the sentence's own text 7 would be past its end."""
    from jeval.tasks.jaster.wiki_base import parse_knp, restored_text

    def sentence(sid: str, comment: str, word: str) -> str:
        return f"# S-ID:{sid}{comment}\n* -1D\n+ -1D\n{word} {word} {word} 名詞 6 普通名詞 1 * 0 * 0\nEOS\n"

    knp = (sentence("wiki00000001-01", " 括弧削除", "山と川と海")
           + sentence("wiki00000001-01-01", " 括弧始:（ 括弧終:） 括弧位置:1", "やま")
           + sentence("wiki00000001-01-02", " 括弧始:「 括弧終:」 括弧位置:7", "かわ")
           + sentence("wiki00000001-02", "", "空"))
    assert restored_text(parse_knp("test", knp)) == "山（やま）と川「かわ」と海空"


def test_processor_values_are_computed_from_the_syntax_tree_in_the_forms_upstream_writes(tmp_path):
    from jeval.errors import JevalError
    from jeval.tasks.jaster.upstream import read_class_mapping, read_output_info

    path = tmp_path / "proc.py"
    path.write_text('''
import textwrap
from textwrap import dedent


class Base(BaseDatasetProcessor):
    SEPARATOR = "、"
    NAMES = {Category.A: "甲", Category.B: "乙"}


class First(Base):
    data_name = "first"
    LIMIT = 64

    def __init__(self, dataset_dir, version_name):
        output_info = OutputInfo(
            instruction=textwrap.dedent(
                f"""\\
                {cls.SEPARATOR.join(self.NAMES.values())}のどれか。
                {First.LIMIT}字まで。
                """
            ).rstrip(),
            output_length=LIMIT_UNKNOWN,
            metrics=["set_f1"],
        )
        super().__init__(dataset_dir, version_name, output_info)


class Second(Base):
    data_name = "second"

    def __init__(self, dataset_dir, version_name):
        self.output_info.instruction = dedent("""  二つ目。  """).strip()
        self.output_info.output_length = 8
        self.output_info.metrics = ["exact_match"]


class Third(Base):
    data_name = "third"

    def __init__(self, dataset_dir, version_name):
        self.output_info.instruction = f"{self.SEPARATOR:>3}"
        self.output_info.output_length = 8
        self.output_info.metrics = ["exact_match"]
''', encoding="utf-8")
    with pytest.raises(JevalError, match="expected a literal value, found 'LIMIT_UNKNOWN'"):
        read_output_info(path, "first")
    path.write_text(path.read_text(encoding="utf-8").replace("LIMIT_UNKNOWN", "self.LIMIT"), encoding="utf-8")
    first = read_output_info(path, "first")
    assert (first.instruction, first.output_length, first.metrics) == ("甲、乙のどれか。\n64字まで。", 64, ("set_f1",))
    assert read_output_info(path, "second").instruction == "二つ目。"
    with pytest.raises(JevalError, match="expected a literal value"):
        read_output_info(path, "third")  # a format spec is not among the forms understood
    assert read_class_mapping(path, "first", ("MISSING", "NAMES")) == {"A": "甲", "B": "乙"}
