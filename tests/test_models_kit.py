"""models.kit: device errors, atomic checkpoints (kill, full disk), refused resumes, the loop."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from models.kit import Checkpoint, TrainState, UserError, pick_device, prepare_out, run_cli, train
from models.kit import checkpoint as ckpt_module
from models.kit import cli as cli_module
from models.kit.reports import METADATA_KEYS, Stopwatch, write_report

ROOT = Path(__file__).resolve().parents[1]


# -- runtime ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "match"),
    [
        pytest.param("gpu0", r"--device 'gpu0' is not a device name", id="not-a-device"),
        pytest.param("cuda:7", r"--device cuda:7", id="cuda-missing-or-out-of-range"),
        pytest.param("mps", r"--device mps: not available", id="mps"),
    ],
)
def test_bad_device_is_a_user_error_naming_the_option(name: str, match: str) -> None:
    if name == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(UserError, match=match):
        pick_device(name)


def test_auto_and_cpu_devices() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


# -- a tiny model trained through the kit ---------------------------------------------------------
def _tiny_run(out: Path, epochs: int, *, resume: bool = False, seed: int = 0, stop_at=None):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    y = x.sum(1, keepdim=True)
    state = TrainState(modules={"net": net}, optimizers={"adam": opt}, generators={"g": gen})

    def run_epoch(epoch: int) -> dict[str, float]:
        total = 0.0
        for idx in torch.randperm(64, generator=gen).split(16):
            # global RNG too (dropout-like noise), so the restored RNG state matters
            noise = 0.01 * torch.randn(len(idx), 1)
            loss = ((net(x[idx]) - y[idx] - noise) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        return {"loss": total}

    ckpt = Checkpoint(out / "checkpoint.pt", model="tiny", config={"seed": seed, "lr": 0.01})
    stop = None if stop_at is None else (lambda s: s.epoch >= stop_at)
    train(state, run_epoch, epochs=epochs, checkpoint=ckpt, resume=resume, progress=False,
          should_stop=stop)  # fmt: skip
    return net, state


def test_resumed_run_equals_uninterrupted_bit_for_bit(tmp_path: Path) -> None:
    straight, s1 = _tiny_run(tmp_path / "a", 4)
    _tiny_run(tmp_path / "b", 2)  # a run that ended (was killed) after epoch 2's checkpoint
    torch.randn(1000)  # the interruption disturbs the global RNG; the checkpoint restores it
    resumed, s2 = _tiny_run(tmp_path / "b", 4, resume=True)
    assert [h["epoch"] for h in s2.history] == [1, 2, 3, 4]
    assert s1.history == s2.history
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)


def test_early_stop_is_remembered_on_resume(tmp_path: Path) -> None:
    _, state = _tiny_run(tmp_path, 10, stop_at=2)
    assert state.epoch == 2 and state.extra["stopped_early"]
    _, again = _tiny_run(tmp_path, 10, resume=True, stop_at=2)
    assert again.epoch == 2


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"seed": 1}, r"trained with --seed 0, this run has --seed 1", id="seed"),
        pytest.param({"lr": 0.1}, r"--lr 0.01, this run has --lr 0.1", id="lr"),
    ],
)
def test_resume_with_another_option_is_refused_naming_it(
    tmp_path: Path, change: dict, match: str
) -> None:
    _tiny_run(tmp_path, 1)
    config = {"seed": 0, "lr": 0.01, **change}
    with pytest.raises(UserError, match=match):
        Checkpoint(tmp_path / "checkpoint.pt", model="tiny", config=config).load()


def test_resume_refuses_missing_corrupt_and_foreign_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    ckpt = Checkpoint(path, model="tiny", config={})
    with pytest.raises(UserError, match="no checkpoint at"):
        ckpt.load()
    path.write_bytes(b"")  # what a kill during a plain torch.save used to leave
    with pytest.raises(UserError, match="not a readable checkpoint"):
        ckpt.load()
    torch.save({"version": 1, "model": "other", "config": {}}, path)
    with pytest.raises(UserError, match="checkpoint of 'other', not of 'tiny'"):
        ckpt.load()
    torch.save({"version": 0}, path)
    with pytest.raises(UserError, match="version 0"):
        ckpt.load()


def test_full_disk_during_save_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tiny_run(tmp_path, 1)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def full_disk(obj: object, handle) -> None:  # writes part of the file, then ENOSPC
        real_save(obj, handle)
        handle.truncate(100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_module.torch, "save", full_disk)
    with pytest.raises(UserError, match=r"No space left on device.*previous checkpoint is intact"):
        _tiny_run(tmp_path, 3, resume=True)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no temporary left
    monkeypatch.undo()
    assert Checkpoint(tmp_path / "checkpoint.pt", model="tiny", config={"seed": 0, "lr": 0.01}) \
        .load()["epoch"] == 1  # fmt: skip


KILLED_WRITER = textwrap.dedent(
    """
    import sys, torch
    from models.kit.checkpoint import save_atomic
    path = sys.argv[1]
    for epoch in range(1, 10**6):
        payload = {"epoch": epoch, "weights": torch.full((4_000_000,), float(epoch))}
        print(epoch, flush=True)
        save_atomic(payload, path)
    """
)


def test_sigkill_during_save_never_leaves_a_partial_checkpoint(tmp_path: Path) -> None:
    # A child saves a 16 MB checkpoint over and over; it is killed in the middle of a
    # save (after announcing it). The file must then hold a whole earlier checkpoint.
    path = tmp_path / "checkpoint.pt"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert child.stdout is not None
    for _ in range(3):  # let a few saves complete
        child.stdout.readline()
    time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    saved = torch.load(path, weights_only=False)
    assert saved["epoch"] >= 2 and torch.all(saved["weights"] == saved["epoch"])
    # the kill may leave the temporary; the next run removes it before training
    Checkpoint(path, model="x", config={}).remove_stale_temporaries()
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


# -- output folder, errors, reports ---------------------------------------------------------------
def test_unwritable_out_is_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match=r"--out .*file/sub is not writable"):
        prepare_out(tmp_path / "file" / "sub")


def test_read_only_out_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As root, chmod does not stop writes; inject the error a read-only mount gives.
    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(cli_module.tempfile, "NamedTemporaryFile", read_only)
    with pytest.raises(UserError, match=r"is not writable \(Read-only file system"):
        prepare_out(tmp_path / "out")


def test_run_cli_prints_one_line_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    def bad(argv: object) -> None:
        raise UserError("--k must be positive, got -1")

    def interrupted(argv: object) -> None:
        raise KeyboardInterrupt

    assert run_cli(bad) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: --k must be positive, got -1" in err
    assert run_cli(interrupted) == 130
    assert "rerun with --resume" in capsys.readouterr().err


def test_reports_share_one_schema(tmp_path: Path) -> None:
    report = write_report(
        tmp_path, model="m", command="python -m models.m", config={"out": tmp_path, "k": 3.0},
        results={"auroc": 0.9, "curve": [1, 2]}, device=torch.device("cpu"),
        stopwatch=Stopwatch(), plots=["a.png"],
    )  # fmt: skip
    assert list(report) == ["schema", "model", "config", "results", "history", "plots", "metadata"]
    assert tuple(report["metadata"]) == METADATA_KEYS
    assert report["config"]["out"] == str(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| `auroc` | 0.9 |" in md and "![a](a.png)" in md and "curve" not in md
