"""The result record every claim returns, and the harness that times a claim.

A claim is a function with no arguments that performs symbolic checks and returns
its :class:`ProofResult`. The body of a claim is written as a generator of proof
steps: each check either holds (the step text is recorded) or raises
:class:`ProofFailure` naming the step that did not hold. :func:`claim` wraps such
a body so that a failure, or any unexpected exception, becomes ``status="failed"``
with the reason, never a traceback from inside SymPy.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sympy as sp

__all__ = ["ProofFailure", "ProofResult", "claim", "require", "require_zero"]


class ProofFailure(AssertionError):
    """A proof step that SymPy could not confirm."""


@dataclass(frozen=True)
class ProofResult:
    """The outcome of one machine-checked claim.

    Attributes
    ----------
    name : str
        Short identifier, the name of the function that checks the claim.
    claim : str
        The claim in words.
    expression : sympy.Basic
        The claim as a SymPy expression (an equation or inequality).
    status : str
        ``"verified"`` when every step held, ``"failed"`` otherwise.
    seconds : float
        Wall-clock time the checks took.
    cpu_seconds : float
        CPU time of this process during the checks (SymPy is single-threaded, so
        this is what the claim costs on a quiet machine, whatever the load).
    steps : tuple of str
        The proof steps, in order, each one a check that held.
    detail : str
        Empty when verified; otherwise the step that failed and why.
    """

    name: str
    claim: str
    expression: sp.Basic
    status: str
    seconds: float
    cpu_seconds: float
    steps: tuple[str, ...]
    detail: str = ""

    @property
    def verified(self) -> bool:
        """True when every step of the claim held."""
        return self.status == "verified"


def require_zero(expr: sp.Expr, step: str) -> str:
    """Return ``step`` if ``expr`` expands to exactly 0, else raise ProofFailure.

    ``expand`` then ``cancel`` decides polynomial and rational identities exactly;
    no heuristic ``simplify`` is involved, so "verified" never rests on a guess.
    """
    residual = sp.cancel(sp.expand(expr))
    if residual != 0:
        raise ProofFailure(f"{step}: residual {sp.sstr(residual)[:200]} is not 0")
    return step


def require(condition: object, step: str) -> str:
    """Return ``step`` if ``condition`` is exactly True, else raise ProofFailure.

    SymPy answers ``None`` when it cannot decide; that counts as a failure.
    """
    if condition is not True and condition is not sp.true:
        raise ProofFailure(f"{step}: SymPy answered {condition!r}, not True")
    return step


def claim(
    words: str, expression: Callable[[], sp.Basic]
) -> Callable[[Callable[[], Iterator[str]]], Callable[[], ProofResult]]:
    """Turn a generator of proof steps into a claim function returning ProofResult.

    Parameters
    ----------
    words : str
        The claim in words.
    expression : callable
        Builds the claim as a SymPy expression (built lazily so importing the
        package stays cheap).
    """

    def decorate(body: Callable[[], Iterator[str]]) -> Callable[[], ProofResult]:
        @functools.wraps(body)
        def run() -> ProofResult:
            steps: list[str] = []
            start, cpu_start = time.perf_counter(), time.process_time()
            status, detail = "verified", ""
            expr: sp.Basic = sp.Symbol("unavailable")
            try:
                expr = expression()
                for step in body():
                    steps.append(step)
            except ProofFailure as exc:
                status, detail = "failed", str(exc)
            except Exception as exc:  # a claim must report, never crash the run
                status, detail = "failed", f"{type(exc).__name__}: {exc}"
            return ProofResult(
                name=body.__name__,
                claim=words,
                expression=expr,
                status=status,
                seconds=time.perf_counter() - start,
                cpu_seconds=time.process_time() - cpu_start,
                steps=tuple(steps),
                detail=detail,
            )

        return run

    return decorate
