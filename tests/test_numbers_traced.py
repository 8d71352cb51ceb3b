"""Every measured-looking number in README.md and docs/**/*.md sits in a generated block.

The rule (docs/results/README.md): a number a run measured is written once, in
its record under ``docs/results/``, and a page shows it only between
``<!-- gen:ID -->`` markers, rendered by ``docs/gen_results.py`` (whose check,
``tests/test_results_tables.py``, fails when the two disagree). This test finds
numbers that *look* measured anywhere else in the prose:

* a decimal (``0.0385``, ``13.6``), unless it is a version (``Python 3.12``);
* a percentage (``1.08 %``), a time (``13 s``, ``5.6 min``, ``48 ms``), a ratio
  (``1.5×``), a value with a spread (``± 0.005``), scientific notation
  (``4e−13``, ``1.7e-7``).

Not scanned: generated blocks, fenced code that is run and so checked
(``{testcode}``, ``{testoutput}``, ``{doctest}``; README's ``pycon`` blocks,
run by ``tests/test_wheel.py``) or is no result (math, shell commands), inline
code, math (``$…$``, ``{math}`…```), link targets and HTML comments. A ``text``
block holding a pasted output *is* scanned. Integers, counts and shapes
(``d = 8``, ``20,000 samples``, ``784-256-128``) are not flagged.

``ALLOWED`` lists the few tokens that are mathematics or chosen parameters, not
measurements (a tolerance, a learning rate, a target). ``PENDING`` lists the
sections still written by hand, each with the issue that converts it; they are
reported, not failed. An entry of ``PENDING`` whose section holds no such number
any more fails the test, so that it is deleted when its section is converted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Mathematical constants, parameters and targets: chosen, not measured.
ALLOWED = {
    "0.25²",  # a variance in a worked example
    "1e-7",  # the perturbation Σ₁ = Σ₀ + 1e-7·I of the near-identical demo pair
    "1e-10",  # an accuracy bound (relative error ≤ 1e-10)
    "1e−10",
    "1e-12",  # a tolerance / the tiny-KL regime
    "1e−12",
    "1e10",  # a condition number drawn by the property tests
    "5e-2",  # the 1-D flow's learning rate
    "2e-3",  # the autoencoder's learning rate
    "1e-8",  # a test tolerance
    "0.01",  # a target (KL ≤ 0.01 nats) or α = 0.01
    "0.5",  # ½ as a number (Φ(x) − 0.5)
    "10 %",  # Cantelli's bound for the 3-σ rule; the 10 % overhead target
    "95 %",  # a confidence level
    "100 %",  # the relative error of a KL that is 0 where it should be positive
    "1.5",  # a bound on log1p's condition number the proof checks (klmath.proofs.gaussian)
    "2.5",  # a test tolerance in float32 ulps (tests/test_gaussian_fast_paths.py)
}

# Sections still written by hand, awaiting conversion by the issue named (page, heading).
# Delete an entry when its section is converted: the test fails on an entry with nothing left.
PENDING = {}


@dataclass(frozen=True)
class Finding:
    """A measured-looking number outside a generated block."""

    page: str
    section: str
    line: int
    token: str
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line} [{self.section}] {self.token!r} in: {self.text.strip()}"


# Fenced blocks not scanned: run by the doctest builder (docs) or tests/test_wheel.py
# (README's pycon blocks), math, shell commands, and directives without prose.
SKIPPED_FENCES = {
    "{testcode}",
    "{testoutput}",
    "{doctest}",
    "{math}",
    "{toctree}",
    "{eval-rst}",
    "pycon",
    "bash",
    "console",
    "shell",
    "sh",
}
_FENCE = re.compile(r"^(\s*)(```+|~~~+)(.*)$")
_BLOCK = re.compile(r"<!-- gen:(?P<id>[\w.-]+) -->.*?<!-- /gen:(?P=id) -->", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BLANK = [
    re.compile(r"``[^`]+``|`[^`\n]+`"),  # inline code (after {math} roles are removed)
    re.compile(r"\{math\}`[^`]*`"),  # MyST math role
    re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S),  # dollar math
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
]
_VERSION = re.compile(  # versions of software and licences, and arXiv identifiers
    r"(?:Python|torch|PyTorch|NumPy|SciPy|SymPy|mpmath|MathJax|Sphinx|CUDA|BY-SA|BY|v)"
    r"\s*[≥>=<≤]*\s*\d+(?:\.\d+)+|\b\d+\.\d+\.\d+\b|arXiv:\d+\.\d+"
)
_OPTION = re.compile(r"^\s*:[\w-]+:.*$", re.M)  # a directive option (`:width: 60%`)
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_MEASURED = re.compile(
    "|".join(
        [
            rf"{_NUMBER}\s?(?:[eE][−-]?\d+|·\s?10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)",  # scientific
            rf"{_NUMBER}\s?%",  # percentage
            rf"{_NUMBER}\s?(?:ms|µs|ns|s|sec|seconds?|min|minutes?|h|hours?)\b",  # time
            rf"{_NUMBER}\s?×(?!\s?\d)",  # ratio (not a shape 4096 × 64)
            rf"±\s?{_NUMBER}",  # spread
            r"\d+\.\d+(?:²)?",  # any decimal
        ]
    )
)


def _mask(text: str, pattern: re.Pattern[str]) -> str:
    """Blank the matches of ``pattern`` with spaces, keeping line numbers."""
    return pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def prose(text: str) -> str:
    """The page with everything that is not scanned blanked out (line numbers kept)."""
    text = _mask(text, _BLOCK)
    text = _mask(text, _COMMENT)
    lines, fence = [], None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            info = m.group(3).strip()
            # Skipped: code that is run (and so checked) or is not a result. Scanned: text
            # blocks (```text holding a pasted output), plain code, and MyST directives
            # holding prose ({note}, a figure caption).
            code = info.split()[0] if info else ""
            code = code in SKIPPED_FENCES
            fence = (m.group(2), code)
            lines.append("")
            continue
        if fence is not None and m and m.group(2).startswith(fence[0]) and not m.group(3).strip():
            fence = None
            lines.append("")
            continue
        lines.append("" if fence is not None and fence[1] else line)
    text = "\n".join(lines)
    for pattern in (*_BLANK, _OPTION, _VERSION):
        text = _mask(text, pattern)
    return text


def findings(page: Path, root: Path = ROOT) -> list[Finding]:
    """The measured-looking numbers of ``page`` outside generated blocks and allowed tokens."""
    text = page.read_text(encoding="utf-8")
    scanned = prose(text).split("\n")
    original = text.split("\n")
    out, section = [], ""
    for number, (line, shown) in enumerate(zip(scanned, original, strict=True), 1):
        heading = _HEADING.match(shown)
        if heading:
            section = heading.group(2)
            continue
        for match in _MEASURED.finditer(line):
            token = match.group(0).strip()
            if token in ALLOWED:
                continue
            out.append(Finding(str(page.relative_to(root)), section, number, token, shown))
    return out


def _pages(root: Path = ROOT) -> list[Path]:
    docs = sorted(p for p in (root / "docs").rglob("*.md") if "_build" not in p.parts)
    return [root / "README.md", *docs]


def _all_findings() -> list[Finding]:
    return [f for page in _pages() for f in findings(page)]


def test_every_measured_number_is_in_a_generated_block() -> None:
    untraced = [f for f in _all_findings() if (f.page, f.section) not in PENDING]
    assert not untraced, (
        "numbers that look measured, outside <!-- gen:ID --> blocks (write them to a record "
        "and render them, see docs/results/README.md; or, for a constant or parameter, add "
        "the token to ALLOWED):\n" + "\n".join(map(str, untraced))
    )


def test_each_pending_section_still_exists_and_holds_a_hand_written_number() -> None:
    pending = {(f.page, f.section) for f in _all_findings()}
    stale = [f"{page} [{section}]" for page, section in PENDING if (page, section) not in pending]
    assert not stale, (
        "these sections of PENDING have no hand-written number any more (converted, or "
        "renamed): delete their entries in tests/test_numbers_traced.py:\n" + "\n".join(stale)
    )


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        ("takes 13.6 s with 2 threads", ["13.6 s"]),
        ("type II 0.29 % and AUROC 0.99979", ["0.29 %", "0.99979"]),
        ("a gap of 4e−13 nats, 1.7e-7 relative", ["4e−13", "1.7e-7"]),
        ("1.5× faster, 4096 × 64 inputs", ["1.5×"]),
        ("NLL 1.055 ± 0.005", ["1.055", "± 0.005"]),
        ("about 9 s, or 5.6 min", ["9 s", "5.6 min"]),
        ("d = 8, 20,000 samples, MLP 784-256-128", []),
        ("Python 3.12, torch 2.11, MathJax 3.2.2, Python ≥ 3.10", []),
        ("MNIST CC BY-SA 3.0 (arXiv:1812.01718)", []),
        (":width: 60%", []),
        ("`python bench/x.py --lr 0.3` and $x = 0.5$ and [a](b/1.5.md)", []),
        ("<!-- gen:x -->1.23 s<!-- /gen:x --> and 1e-12 allowed", []),
    ],
)
def test_the_scanner_flags_measurements_not_parameters(
    tmp_path: Path, line: str, tokens: list[str]
) -> None:
    page = f"# Title\n\n{line}\n\n```pycon\n>>> x = 0.123  # 4.5 s\n```\n"
    (tmp_path / "README.md").write_text(page)
    assert [f.token for f in findings(tmp_path / "README.md", tmp_path)] == tokens


def test_a_pasted_output_is_scanned_and_sections_are_named(tmp_path: Path) -> None:
    page = "# A\n\n## Speed\n\n```text\nklmath 4.2 ms\n```\n\n```{testoutput}\n4.2 ms\n```\n"
    (tmp_path / "README.md").write_text(page)
    found = findings(tmp_path / "README.md", tmp_path)
    assert [(f.section, f.line, f.token) for f in found] == [("Speed", 6, "4.2 ms")]
