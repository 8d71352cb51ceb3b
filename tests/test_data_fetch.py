"""python -m models.data fetch, offline: a local http.server with small fixture files.

Good mirror, dead mirror (fallback), corrupted file (refused, nothing cached),
interrupted download (no partial file left), and the command line.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from models_support import fake_arrays, use_fake_catalog

from models.data import FetchError, catalog, fetch, load_dataset
from models.data.__main__ import main as data_main

STEMS = {"train": "train", "test": "t10k"}


def _gz_files(arrays: dict, name: str) -> dict[str, bytes]:
    files = {}
    for split, stem in STEMS.items():
        for kind, a in zip(("images-idx3", "labels-idx1"), arrays[name, split], strict=True):
            idx = bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
            files[f"{stem}-{kind}-ubyte.gz"] = gzip.compress(idx, mtime=0)
    return files


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, bytes]] = {}
    truncate: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in self.truncate:  # announce the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"routes": {}, "truncate": set()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def _dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


@pytest.fixture
def fixture(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, bytes], dict[str, str], dict]:
    arrays = fake_arrays(seed=3)
    use_fake_catalog(monkeypatch, arrays)
    files = _gz_files(arrays, "mnist")
    sums = {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}
    return files, sums, arrays


def _publish(handler: type[_Handler], prefix: str, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        handler.routes[f"{prefix}{name}"] = body


def test_good_mirror_after_a_dead_one(tmp_path: Path, server, fixture) -> None:
    url, handler = server
    files, sums, arrays = fixture
    _publish(handler, "/good/", files)
    folder = fetch("mnist", tmp_path, mirrors=[_dead_url(), f"{url}/good/"], files=sums,
                   progress=False, timeout=5)  # fmt: skip
    assert folder == tmp_path / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    x, _ = load_dataset("mnist", "test", tmp_path)  # content verified against the catalog
    np.testing.assert_array_equal(x, arrays["mnist", "test"][0])
    # a second fetch finds the verified files and downloads nothing
    handler.routes.clear()
    fetch("mnist", tmp_path, mirrors=[f"{url}/good/"], files=sums, progress=False)


def test_corrupted_file_is_refused_and_nothing_cached(tmp_path: Path, server, fixture) -> None:
    url, handler = server
    files, sums, _ = fixture
    bad = dict(files)
    bad["t10k-images-idx3-ubyte.gz"] = bad["t10k-images-idx3-ubyte.gz"][:-3] + b"xyz"
    _publish(handler, "/bad/", bad)
    with pytest.raises(FetchError, match=r"t10k-images-idx3-ubyte.gz: wrong checksum"):
        fetch("mnist", tmp_path, mirrors=[f"{url}/bad/"], files=sums, progress=False)
    cached = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert "t10k-images-idx3-ubyte.gz" not in cached
    assert cached <= set(files)  # only complete, verified files, no temporaries
    # the next mirror in the list serves the right file: used instead
    _publish(handler, "/good/", files)
    fetch("mnist", tmp_path, mirrors=[f"{url}/bad/", f"{url}/good/"], files=sums, progress=False)
    load_dataset("mnist", "test", tmp_path)


def test_interrupted_download_leaves_no_partial_file(tmp_path: Path, server, fixture) -> None:
    url, handler = server
    files, sums, _ = fixture
    _publish(handler, "/cut/", files)
    handler.truncate.add("/cut/train-images-idx3-ubyte.gz")
    with pytest.raises(FetchError, match=r"could not download mnist/train-images-idx3-ubyte\.gz"):
        fetch("mnist", tmp_path, mirrors=[f"{url}/cut/"], files=sums, progress=False)
    assert not (tmp_path / "mnist").exists()  # the first file failed: nothing was created


def test_all_mirrors_dead_lists_each(tmp_path: Path, fixture) -> None:
    _, sums, _ = fixture
    dead = [_dead_url(), _dead_url()]
    with pytest.raises(FetchError) as info:
        fetch("mnist", tmp_path / "new", mirrors=dead, files=sums, progress=False, timeout=5)
    assert all(d in str(info.value) for d in dead) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # not even the destination folder


def test_fetch_command_line(
    tmp_path: Path, server, fixture, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    url, handler = server
    files, sums, _ = fixture
    _publish(handler, "/m/", files)
    monkeypatch.setitem(catalog.MIRRORS, "mnist", (f"{url}/m/",))
    monkeypatch.setitem(catalog.FILES, "mnist", sums)
    data_main(["fetch", "--dataset", "mnist", "--dest", str(tmp_path), "--quiet"])
    assert f"mnist: verified in {tmp_path / 'mnist'}" in capsys.readouterr().out


def test_catalog_covers_every_data_set_and_file() -> None:
    stems = {f"{s}-{k}-ubyte.gz" for s in STEMS.values() for k in ("images-idx3", "labels-idx1")}
    for name in catalog.DATASETS:
        assert set(catalog.FILES[name]) == stems
        assert all(len(h) == 64 for h in catalog.FILES[name].values())
        assert catalog.MIRRORS[name] and all(m.endswith("/") for m in catalog.MIRRORS[name])
        assert set(catalog.ARRAY_SHA256[name]) == set(catalog.SPLITS)
