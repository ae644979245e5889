import json

import pytest

from deeplab_edu.published import paper_difference
from deeplab_edu.records import RESULTS, describe_record, read_record, recorded_effect

PROVENANCE = "command: python benchmarks/bench_x.py\nmachine: a 2-core test CPU\ndate: 2026-12-02"


def write(tmp_path, name, record):
    (tmp_path / name).write_text(json.dumps(record))
    return name


def test_a_pair_is_read_as_an_effect_with_its_labels_filled_from_the_record(tmp_path, capsys):
    name = write(tmp_path, "pair.json", {"provenance": PROVENANCE, "crop": 321, "size": 352, "seeds": [0, 1],
                                         "lr": 0.005, "mIoU": {"a": [0.40, 0.42], "b": [0.46, 0.47]}})
    paper = paper_difference("v1_field_of_view", ("DeepLab-CRF-LargeFOV", "mean IoU (%)"),
                             ("DeepLab-CRF", "mean IoU (%)"))
    effect = recorded_effect(name, "mIoU", ("a", "4x4, {crop} px"), ("b", "LargeFOV, {crop} px"), paper=paper,
                             results=tmp_path)
    assert (effect.a, effect.b) == ("4x4, 321 px", "LargeFOV, 321 px")
    assert effect.delta == pytest.approx(0.055) and effect.verdict == "holds" and effect.paper is paper
    printed = capsys.readouterr().out
    assert "pair.json: 321-px crops of 352-px scenes, base lr 0.005, seeds [0, 1]; machine: a 2-core test CPU" in printed
    assert effect.sentence() in printed
    again = recorded_effect(name, "mIoU", ("b", "B"), ("a", "A"), results=tmp_path, describe=False)
    assert capsys.readouterr().out == f"  {again.sentence()}\n"  # the record's line is not repeated


def test_a_missing_record_is_none_and_said(tmp_path, capsys):
    assert read_record("absent.json", tmp_path) is None
    assert recorded_effect("absent.json", "mIoU", ("a", "A"), ("b", "B"), results=tmp_path) is None
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and all(line.startswith("no benchmark record") and "absent.json" in line
                                     for line in printed)


def test_broken_records_are_refused_naming_the_file_and_what_is_wrong(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        read_record("bad.json", tmp_path)
    write(tmp_path, "anon.json", {"mIoU": {}})
    with pytest.raises(ValueError, match="anon.json says nowhere where it was measured"):
        read_record("anon.json", tmp_path)
    name = write(tmp_path, "pair.json", {"provenance": PROVENANCE, "mIoU": {"a": [0.4], "b": [0.5]}})
    with pytest.raises(KeyError, match="no 'mIoU \\+ CRF'"):
        recorded_effect(name, "mIoU + CRF", ("a", "A"), ("b", "B"), results=tmp_path)
    with pytest.raises(KeyError, match="no arm 'c'.*its arms: \\['a', 'b'\\]"):
        recorded_effect(name, "mIoU", ("a", "A"), ("c", "C"), results=tmp_path)


def test_every_committed_record_reads_and_says_where_it_was_measured():
    names = sorted(p.name for p in RESULTS.glob("*.json"))
    assert names, f"no records under {RESULTS}"
    for name in names:
        saved = read_record(name)
        assert "machine:" in describe_record(name, saved), name
