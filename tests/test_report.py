"""models.report: the demo report copies numbers, never invents them."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from models.kit.reports import Stopwatch, flatten_scalars, write_report
from models.report import main


def test_flatten_scalars_keeps_numbers_and_drops_curves() -> None:
    data = {"auroc": 0.99, "sizes": {"train": 50, "test": 10}, "curve": [0.1, 0.2], "ok": True}
    assert dict(flatten_scalars(data)) == {
        "auroc": 0.99,
        "sizes.train": 50,
        "sizes.test": 10,
        "ok": True,
    }


def test_report_lists_each_model_with_its_numbers_and_figures(tmp_path: Path) -> None:
    (tmp_path / "flow").mkdir()
    write_report(
        tmp_path / "flow", model="flow1d", command="python -m models.flow1d",
        config={"epochs": 1}, results={"kl_nats": 0.0029}, device=torch.device("cpu"),
        stopwatch=Stopwatch(), plots=["density.png"],
    )  # fmt: skip
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "report.json").write_text(json.dumps({"kl": 1.0}))
    (tmp_path / "proofs.txt").write_text("6/6 verified")
    text = main([str(tmp_path)]).read_text()
    assert "| `kl_nats` | 0.0029 |" in text
    assert "![density](flow/density.png)" in text
    assert "6/6 verified" in text
    assert "not a schema-1 report" in text
