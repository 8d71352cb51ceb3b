"""The README's and the docs' generated tables agree with their committed records."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from klmath import _records

ROOT = Path(__file__).resolve().parent.parent


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_results", ROOT / "docs" / "gen_results.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_results"] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def test_every_generated_block_matches_its_record() -> None:
    drifts = gen.generate(ROOT, write=False)
    assert not drifts, "\n".join(f"{d.page}: {d.block_id}\n{d.diff}" for d in drifts)


def _tree(tmp_path: Path, value: float, page_value: str) -> Path:
    (tmp_path / "docs" / "tables").mkdir(parents=True)
    _records.write_record("demo", {"kl": value}, directory=tmp_path / "docs" / "results")
    (tmp_path / "docs" / "tables" / "demo.py").write_text(
        "TABLES = {'demo-kl': lambda r: "
        "f\"| kl |\\n|---|\\n| {r['demo']['values']['kl']:.3f} |\"}\n"
    )
    (tmp_path / "README.md").write_text(
        f"x <!-- gen:demo-kl -->\n| kl |\n|---|\n| {page_value} |\n<!-- /gen:demo-kl --> y\n"
    )
    return tmp_path


def test_a_number_edited_in_the_page_is_reported_and_rewritten(tmp_path: Path) -> None:
    root = _tree(tmp_path, 0.125, "0.126")
    drifts = gen.generate(root, write=False)
    assert [(d.block_id, str(d.page)) for d in drifts] == [("demo-kl", "README.md")]
    assert "-| 0.126 |" in drifts[0].diff and "+| 0.125 |" in drifts[0].diff
    gen.generate(root, write=True)
    assert "| 0.125 |" in (root / "README.md").read_text()
    assert gen.generate(root, write=False) == []


def test_a_page_matching_its_record_has_no_drift(tmp_path: Path) -> None:
    assert gen.generate(_tree(tmp_path, 0.125, "0.125"), write=False) == []


def test_inline_blocks_render_without_newlines(tmp_path: Path) -> None:
    root = _tree(tmp_path, 0.5, "0.500")
    (root / "docs" / "tables" / "inline.py").write_text(
        "TABLES = {'kl-value': lambda r: f\"{r['demo']['values']['kl']:.2f}\"}\n"
    )
    (root / "docs" / "page.md").write_text("KL is <!-- gen:kl-value -->9<!-- /gen:kl-value -->.\n")
    gen.generate(root, write=True)
    assert (root / "docs" / "page.md").read_text() == (
        "KL is <!-- gen:kl-value -->0.50<!-- /gen:kl-value -->.\n"
    )


def test_missing_record_unknown_block_and_unclosed_marker_are_errors(tmp_path: Path) -> None:
    root = _tree(tmp_path, 0.5, "0.500")
    (root / "docs" / "results" / "demo.json").unlink()
    with pytest.raises(gen.GenerationError, match=r"README.md: .*record 'demo' is missing"):
        gen.generate(root, write=False)
    (root / "README.md").write_text("<!-- gen:nope -->x<!-- /gen:nope -->\n")
    with pytest.raises(gen.GenerationError, match="no renderer for block id 'nope'"):
        gen.generate(root, write=False)
    (root / "README.md").write_text("<!-- gen:demo-kl -->x\n")
    with pytest.raises(gen.GenerationError, match="closing"):
        gen.generate(root, write=False)


def test_records_round_trip_with_provenance(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    path = _records.write_record(
        "r1", {"a": np.float64(1.5), "b": np.arange(3), "c": float("inf")}, directory=tmp_path
    )
    record = _records.read_record("r1", tmp_path)
    assert record["values"] == {"a": 1.5, "b": [0, 1, 2], "c": "inf"}
    assert {"command", "date", "machine", "versions", "git", "device"} <= set(record)
    assert json.loads(path.read_text())["schema"] == _records.SCHEMA
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


@pytest.mark.parametrize("name", ["", "Upper", "a/b", "../x", 3])
def test_bad_record_names_are_refused(name: object) -> None:
    with pytest.raises(ValueError, match="record name"):
        _records.make_record(name, {})  # type: ignore[arg-type]


def test_values_that_are_not_json_data_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot store a object"):
        _records.make_record("x", {"a": object()})
