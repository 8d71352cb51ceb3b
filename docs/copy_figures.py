"""Copy the key figures of a ``make demo`` run into ``docs/_static/figures/``.

The pages name each figure with a ``klfigure`` directive whose ``:source:`` says
where ``make demo`` writes it, so this script needs no list of its own::

    python docs/copy_figures.py            # from results/
    python docs/copy_figures.py OUTDIR     # from another OUT of `make demo OUT=...`

Each PNG is stored at most ``--max-kb`` (200) KB: if the original is larger it is
scaled down (and, if needed, reduced to a 256-colour palette) until it fits, since
the figures are committed. Missing sources are listed, not fatal.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
FIGURES = DOCS / "_static" / "figures"
DIRECTIVE = re.compile(r"^```\{klfigure\}\s+(\S+)\s*\n((?::[\w-]+:.*\n)*)", re.M)
SOURCE = re.compile(r"^:source:\s*(\S+)", re.M)


def figure_sources() -> dict[str, str]:
    """Map each figure file name used by a page to the path ``make demo`` writes."""
    found: dict[str, str] = {}
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        for name, options in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            source = SOURCE.search(options)
            if source:
                found[name] = source.group(1)
    return found


def shrink_png(src: Path, dst: Path, max_bytes: int) -> int:
    """Write ``src`` to ``dst`` as a PNG of at most ``max_bytes``; return its size."""
    if src.stat().st_size <= max_bytes:
        shutil.copyfile(src, dst)
        return dst.stat().st_size
    from PIL import Image  # Pillow comes with matplotlib (the models extra)

    image = Image.open(src).convert("RGB")
    for palette in (False, True):
        scale = 1.0
        while scale > 0.2:
            size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
            candidate = image.resize(size, Image.Resampling.LANCZOS)
            if palette:
                candidate = candidate.quantize(colors=256)
            buffer = io.BytesIO()
            candidate.save(buffer, format="PNG", optimize=True)
            if buffer.tell() <= max_bytes:
                dst.write_bytes(buffer.getvalue())
                return buffer.tell()
            scale *= 0.85
    raise RuntimeError(f"{src} does not fit in {max_bytes} bytes even at 20 % scale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="results", help="make demo's OUT folder")
    parser.add_argument("--max-kb", type=int, default=200)
    args = parser.parse_args(argv)
    FIGURES.mkdir(parents=True, exist_ok=True)
    missing = []
    for name, source in figure_sources().items():
        # the pages say results/...; honour another OUT folder
        src = Path(args.out) / Path(source).relative_to("results")
        if not src.is_file():
            missing.append(str(src))
            continue
        size = shrink_png(src, FIGURES / name, args.max_kb * 1024)
        print(f"{src} -> docs/_static/figures/{name} ({size / 1024:.0f} KB)")
    for path in missing:
        print(f"missing: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
