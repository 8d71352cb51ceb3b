"""models.report: the demo report copies numbers, never invents them."""

from __future__ import annotations

import json
from pathlib import Path

from models.report import flatten_scalars, main


def test_flatten_scalars_keeps_numbers_and_drops_curves_and_bookkeeping() -> None:
    data = {
        "auroc": 0.99,
        "sizes": {"train": 50, "test": 10},
        "history": [1.0, 0.5],
        "meta": {"torch": "2.13"},
        "data_checksums_sha256": {"a": "f" * 64},
        "curve": [0.1, 0.2],
        "ok": True,
    }
    assert dict(flatten_scalars(data)) == {
        "auroc": 0.99,
        "sizes.train": 50,
        "sizes.test": 10,
        "ok": True,
    }


def test_report_lists_each_model_with_its_numbers_and_figures(tmp_path: Path) -> None:
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "report.json").write_text(json.dumps({"kl_nats": 0.0029}))
    (tmp_path / "flow" / "density.png").write_bytes(b"")
    (tmp_path / "proofs.txt").write_text("6/6 verified")
    text = main([str(tmp_path)]).read_text()
    assert "| `kl_nats` | 0.0029 |" in text
    assert "![density](flow/density.png)" in text
    assert "6/6 verified" in text
