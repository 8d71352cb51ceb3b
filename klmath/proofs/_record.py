"""The result record every claim returns, the checks a step is made of, and the harness.

A claim is a function that checks one statement and returns its
:class:`ProofResult`. Its body is a generator of proof steps, and a step is
recorded only if it is a :class:`Step`: the value returned by a check that held
(:func:`require`, :func:`require_zero`, :func:`require_equal`,
:func:`require_unsat`, :func:`require_sat`, :func:`by_induction`). A bare string
is refused, so no step can be free text. A check that does not hold raises
:class:`ProofFailure` naming the step; :func:`claim` turns that (and any
unexpected exception) into ``status="failed"`` with the reason.

Each claim checks a *statement* it is given (by default the stored one): the
derivation produces a result and a step compares it with the statement, so a
changed statement fails the claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sympy as sp

__all__ = [
    "ClaimFunction",
    "ProofFailure",
    "ProofResult",
    "Step",
    "by_induction",
    "claim",
    "concrete",
    "require",
    "require_equal",
    "require_sat",
    "require_unsat",
    "require_zero",
]


class ProofFailure(AssertionError):
    """A proof step that could not be confirmed."""


class Step(str):
    """The text of a proof step whose check held; made only by the ``require*`` functions.

    ``concrete`` names the concrete sizes the step was checked at (``""`` when it
    holds at symbolic size or needs no size).
    """

    concrete: str = ""


def _step(text: str, concrete: str = "") -> Step:
    step = Step(text)
    step.concrete = concrete
    return step


def concrete(step: Step, sizes: str) -> Step:
    """Return ``step`` marked as checked only at the concrete sizes ``sizes`` (e.g. "n ≤ 5")."""
    if not isinstance(step, Step):
        raise ProofFailure(f"{step!r} is not a checked step")
    return _step(str(step), sizes)


def require_zero(expr: sp.Expr, step: str) -> Step:
    """Return ``step`` as a Step if ``expr`` expands to exactly 0, else raise ProofFailure.

    ``expand`` then ``cancel`` decides polynomial and rational identities exactly;
    no heuristic ``simplify`` is involved, so "verified" never rests on a guess.
    """
    residual = sp.cancel(sp.expand(expr))
    if residual != 0:
        raise ProofFailure(f"{step}: residual {sp.sstr(residual)[:200]} is not 0")
    return _step(step)


def require_equal(lhs: sp.Expr, rhs: sp.Expr, step: str) -> Step:
    """Return ``step`` if ``lhs − rhs`` expands to exactly 0 (see :func:`require_zero`)."""
    return require_zero(lhs - rhs, step)


def require(condition: object, step: str) -> Step:
    """Return ``step`` as a Step if ``condition`` is exactly True, else raise ProofFailure.

    SymPy answers ``None`` when it cannot decide; that counts as a failure, and so
    does any value that is not the boolean True (a NumPy bool must be converted).
    """
    if condition is not True and condition is not sp.true:
        raise ProofFailure(f"{step}: the check answered {condition!r}, not True")
    return _step(step)


def require_unsat(solver: Any, step: str) -> Step:
    """Return ``step`` if the SMT solver ``solver`` (z3) proves its assertions unsatisfiable."""
    import z3

    verdict = solver.check()
    if verdict != z3.unsat:
        raise ProofFailure(f"{step}: the solver answered {verdict}, not unsat")
    return _step(step)


def require_sat(solver: Any, step: str) -> tuple[Step, Any]:
    """Return ``(step, model)`` if ``solver`` finds a model of its assertions (a counterexample)."""
    import z3

    verdict = solver.check()
    if verdict != z3.sat:
        raise ProofFailure(f"{step}: the solver answered {verdict}, not sat")
    return _step(step), solver.model()


def by_induction(base: Step, inductive: Step, step: str) -> Step:
    """Return ``step`` ("… for every n ≥ 1 by induction") from a checked base case and step."""
    for part in (base, inductive):
        if not isinstance(part, Step):
            raise ProofFailure(f"{step}: {part!r} is not a checked step")
    return _step(f"{step} [base: {base}; step: {inductive}]")


@dataclass(frozen=True)
class ProofResult:
    """The outcome of one machine-checked claim.

    Attributes
    ----------
    name : str
        Short identifier, the name of the function that checks the claim.
    claim : str
        The claim in words.
    expression : object
        The statement that was checked (a SymPy expression, or a first-order
        formula for the argmax lemma).
    generality : str
        For which sizes the claim is proved, e.g. ``"all d ≥ 1"``.
    status : str
        ``"verified"`` when every step held, ``"failed"`` otherwise.
    seconds : float
        Wall-clock time the checks took.
    cpu_seconds : float
        CPU time of this process during the checks.
    steps : tuple of str
        The proof steps, in order, each one a check that held.
    concrete : tuple of str
        The steps checked only at concrete sizes, each with the sizes (cross-checks
        and base cases; the claim's generality does not rest on them unless said).
    uses : tuple of str
        Theorems the proof relies on without checking them (change of variables,
        spectral theorem, ...): stated here, not hidden in a step.
    detail : str
        Empty when verified; otherwise the step that failed and why.
    """

    name: str
    claim: str
    expression: object
    generality: str
    status: str
    seconds: float
    cpu_seconds: float
    steps: tuple[str, ...]
    concrete: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    detail: str = ""

    @property
    def verified(self) -> bool:
        """True when every step of the claim held."""
        return self.status == "verified"

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (the statement as text)."""
        return {
            "name": self.name,
            "claim": self.claim,
            "statement": str(self.expression),
            "generality": self.generality,
            "status": self.status,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "steps": list(self.steps),
            "concrete": list(self.concrete),
            "uses": list(self.uses),
            "detail": self.detail,
        }


class ClaimFunction:
    """A claim: call it (optionally with another statement) to check it.

    Parameters
    ----------
    body : callable
        The generator of proof steps, given the statement to check; its name and
        docstring become the claim's.
    words, generality, uses
        As in :class:`ProofResult`.
    statement : callable
        Builds the stored statement.
    """

    def __init__(
        self,
        body: Callable[[Any], Iterator[Step]],
        words: str,
        generality: str,
        statement: Callable[[], Any],
        uses: tuple[str, ...] = (),
    ) -> None:
        self.body = body
        self.words = words
        self.generality = generality
        self.statement = statement
        self.uses = uses
        self.__name__ = body.__name__
        self.__qualname__ = body.__qualname__
        self.__module__ = body.__module__
        self.__doc__ = body.__doc__

    def __repr__(self) -> str:
        return f"<claim {self.__name__}: {self.generality}>"

    def __call__(self, statement: Any = None) -> ProofResult:
        """Check the claim for ``statement`` (default: the stored one) and return the result."""
        steps: list[str] = []
        concrete_steps: list[str] = []
        start, cpu_start = time.perf_counter(), time.process_time()
        status, detail = "verified", ""
        expr: object = sp.Symbol("unavailable")
        try:
            expr = self.statement() if statement is None else statement
            for step in self.body(expr):
                if not isinstance(step, Step):
                    raise ProofFailure(f"step {step!r} is free text, not the result of a check")
                steps.append(str(step))
                if step.concrete:
                    concrete_steps.append(f"{step.concrete}: {step}")
            if not steps:
                raise ProofFailure("the claim checked nothing")
        except ProofFailure as exc:
            status, detail = "failed", str(exc)
        except Exception as exc:  # a claim must report, never crash the run
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
        return ProofResult(
            name=self.__name__,
            claim=self.words,
            expression=expr,
            generality=self.generality,
            status=status,
            seconds=time.perf_counter() - start,
            cpu_seconds=time.process_time() - cpu_start,
            steps=tuple(steps),
            concrete=tuple(concrete_steps),
            uses=self.uses,
            detail=detail,
        )


def claim(
    words: str,
    statement: Callable[[], Any],
    *,
    generality: str,
    uses: tuple[str, ...] = (),
) -> Callable[[Callable[[Any], Iterator[Step]]], ClaimFunction]:
    """Turn a generator of checked steps into a claim (a :class:`ClaimFunction`).

    Parameters
    ----------
    words : str
        The claim in words.
    statement : callable
        Builds the stored statement (lazily, so importing the package stays cheap).
    generality : str
        For which sizes the claim is proved ("all d ≥ 1", "all n, all Ω", ...).
    uses : tuple of str
        Theorems used without being checked.
    """

    def decorate(body: Callable[[Any], Iterator[Step]]) -> ClaimFunction:
        return ClaimFunction(body, words, generality, statement, uses)

    return decorate
