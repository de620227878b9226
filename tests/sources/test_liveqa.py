import json

import pytest

from bimed_assets.sources import load_files
from bimed_assets.sources.liveqa import SPEC, unwrap
from bimed_assets.sources.reading import SourceFileError

TEST_XML = "liveqa_medical_trec2017/TestDataset/TREC-2017-LiveQA-Medical-Test.xml"


def test_full_test_file(real_data):
    result = load_files(SPEC, real_data / TEST_XML)
    assert result.read == 167 and len(result.records) == 167 and len(result.quarantine) == 0
    records = result.records
    assert records["id"].n_unique() == 167
    assert records["id"].head(4).to_list() == ["liveqa-TQ1A1", "liveqa-TQ1A2", "liveqa-TQ1A3", "liveqa-TQ2A1"]
    qids = {json.loads(native)["@qid"] for native in records["native"]}
    assert len(qids) == 104
    assert set(records["split"]) == {"test"} and set(records["subset"]) == {"trec2017_medical"}
    # The TREC test set, but not a BiMediX evaluation split: it may be trained on.
    assert not records["is_eval"].any() and set(records["task"]) == {"open_qa"}


def test_the_folder_reads_only_the_question_file(real_data):
    # Beside Test.xml: the -w-summaries.xml copy of the same questions and the qrels .txt.
    result = load_files(SPEC, real_data / "liveqa_medical_trec2017")
    assert result.read == 167 and len(result.records) == 167


def test_fields_on_real_data(real_data):
    path = real_data / TEST_XML
    records = load_files(SPEC, path).records
    tq1 = records.row(0, named=True)
    assert tq1["question"] == "What is the relationship between Noonan syndrome and polycystic renal disease?"
    assert tq1["origin"] == f"{path.name}:15"  # portable: the file name, not this machine's path
    # TQ1's answers use <RefAnswer>; the native record is a dict of the question with this one answer.
    native = json.loads(tq1["native"])
    assert native["@qid"] == "TQ1" and list(native["ReferenceAnswers"]) == ["RefAnswer"]
    assert native["ReferenceAnswers"]["RefAnswer"]["@aid"] == "TQ1A1"
    assert native["Original-Question"]["SUBJECT"] == "Noonan syndrome"
    assert native["ANNOTATIONS"]["TYPE"] == {"@tid": "T1", "@hasFocus": "F1,F2", "#text": "EFFECT"}
    # Lines the editor wrapped mid-sentence are rejoined.
    assert "female pseudo-Turner's and Bonnevie-Ullrich syndromes." in tq1["answer_text"]
    assert "\n" not in tq1["answer_text"] and tq1["context"] is None
    # The author's own line breaks (a list of ingredients) are kept, without the XML indentation.
    assert records.filter(id="liveqa-TQ3A1")["answer_text"][0].startswith(
        "Active Ingredients\nAmphetamine Aspartate\nAmphetamine Sulfate\n"
    )
    tq2 = json.loads(records.filter(id="liveqa-TQ2A1")["native"][0])
    assert list(tq2["ReferenceAnswers"]) == ["ReferenceAnswer"]
    assert tq2["Original-Question"]["MESSAGE"].endswith(
        "I have celiac disease & need to know if these contain gluten, Thank you!"
    )


def test_questions_without_paraphrase_use_subject_and_message(real_data):
    records = load_files(SPEC, real_data / TEST_XML).records
    question = dict(zip(records["id"], records["question"]))
    assert question["liveqa-TQ10A1"] == (
        "Diabetes and pain control\nHow can I narrow my search to find information regarding pain(joint) "
        "medication suitable to use with a person who has diabetes type 2."
    )
    assert question["liveqa-TQ103A1"] == "What can cause white cells ti uprate"  # empty <SUBJECT/>


def test_bundled_sample_loads_without_drops():
    result = load_files(SPEC)
    assert result.read == len(result.records) == 75
    assert len({json.loads(n)["@qid"] for n in result.records["native"]}) == 40
    assert result.records["origin"][0] == "liveqa/TREC-2017-LiveQA-Medical-Test.xml:15"
    assert {"liveqa-TQ1A1", "liveqa-TQ10A1", "liveqa-TQ34A1"} <= set(result.records["id"])


def test_unwrap():
    wrapped = "x" * 260 + "\n\t\t\t\t\tcontinued.\n\t\t\t\t\tNew line\n\n\t\t\t\tNew paragraph\n\t\t\t"
    assert unwrap(wrapped) == "x" * 260 + " continued.\nNew line\n\nNew paragraph"


def _question(qid, answers, paraphrase="What is it?"):
    return f"""
    <NLM-QUESTION qid="{qid}">
        <Original-Question qfile="{qid}.txt"><SUBJECT>subject</SUBJECT><MESSAGE>message</MESSAGE></Original-Question>
        <NIST-PARAPHRASE>{paraphrase}</NIST-PARAPHRASE>
        <ANNOTATIONS><FOCUS fid="F1" fcategory="Problem">flu</FOCUS></ANNOTATIONS>
        {answers}
    </NLM-QUESTION>"""


def _answer(aid, text, tag="ReferenceAnswer"):
    aid = f' aid="{aid}"' if aid else ""
    return f"<{tag}{aid}><ANSWER>{text}</ANSWER><AnswerURL>https://x.org</AnswerURL><COMMENT/></{tag}>"


def _write(path, *questions):
    body = "".join(questions)
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<LiveQA2017-Medical-Test-Set-Full>{body}\n'
        "</LiveQA2017-Medical-Test-Set-Full>\n"
    )
    return path


def test_bad_records_are_quarantined_with_reasons(tmp_path):
    path = _write(
        tmp_path / "Mini-Test.xml",
        _question(
            "Q1",
            f"<ReferenceAnswers>{_answer('Q1A1', 'Fine.')}{_answer('Q1A2', 'Also fine.', 'RefAnswer')}"
            f"{_answer('Q1A1', 'Same aid.')}</ReferenceAnswers>",
        ),
        _question("Q2", "<ReferenceAnswers/>"),
        _question("Q3", ""),
        _question(
            "Q4",
            f"<ReferenceAnswers>{_answer('Q4A1', '  ')}{_answer(None, 'No aid.')}"
            f"{_answer('Q4A3', '&lt;p&gt;Tagged&lt;/p&gt;')}{_answer('Q4A4', 'A&amp;nbsp;B')}"
            f"{_answer('Q4A5', 'BROKEN')}{_answer('Q4A6', 'Nested <b>bold</b>')}"
            "<ReferenceAnswer aid='Q4A7'><AnswerURL>u</AnswerURL></ReferenceAnswer></ReferenceAnswers>",
        ),
    )
    path.write_bytes(path.read_bytes().replace(b"BROKEN", b"caf\xe9"))  # Latin-1 byte in a UTF-8 file
    result = load_files(SPEC, path)
    assert result.read == 12
    assert result.records["id"].to_list() == ["liveqa-Q1A1", "liveqa-Q1A2"]
    rows = result.quarantine.select("reason", "detail").rows()
    assert [reason for reason, _ in rows] == [
        "duplicate_id",  # Q1A1 again
        "missing_field",  # Q2: empty <ReferenceAnswers/>
        "missing_field",  # Q3: no <ReferenceAnswers>
        "empty_text",
        "missing_field",  # no aid
        "html_remnant",
        "html_remnant",
        "broken_encoding",
        "wrong_type",  # <ANSWER> holding markup
        "missing_field",  # no <ANSWER>
    ]
    assert rows[1][1] == "question 'Q2' has no reference answer"
    lines = path.read_bytes().split(b"\n")
    q2_line = next(number for number, line in enumerate(lines, start=1) if b'qid="Q2"' in line)
    assert result.quarantine["origin"][1] == f"{path.name}:{q2_line}"


def test_the_question_file_filter(tmp_path):
    answers = f"<ReferenceAnswers>{_answer('Q1A1', 'A.')}</ReferenceAnswers>"
    _write(tmp_path / "Questions-w-summaries.xml", _question("Q1", answers))
    (tmp_path / "qrels.txt").write_text("1 3 an answer\n")
    assert load_files(SPEC, tmp_path).read == 0


def test_broken_xml_names_file_and_line(tmp_path):
    path = tmp_path / "Broken-Test.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<LiveQA2017-Medical-Test-Set-Full>\n<NLM-QUESTION qid="Q1">\n'
        "<NIST-PARAPHRASE>Unclosed\n</NLM-QUESTION>\n</LiveQA2017-Medical-Test-Set-Full>\n"
    )
    with pytest.raises(SourceFileError, match=rf"^{path}:5: not well-formed XML"):
        load_files(SPEC, path)


def test_sample_glob_also_finds_the_upstream_layout(real_data):
    # A `source_files` root laid out like upstream (liveqa_medical_trec2017/TestDataset/) works too.
    result = load_files(SPEC, str(real_data / SPEC.sample))
    assert result.read == 167 and len(result.records) == 167
