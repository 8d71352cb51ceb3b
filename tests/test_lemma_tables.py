"""check_argmax_lemma refuses tables it cannot check, naming the argument and the fix.

A ragged list has no table shape; an extended-precision float table (np.longdouble,
80-bit on x86-64) would be silently rounded to the float64 the lemma is checked in.
Narrower floats (float16, float32) are exact in float64 and are accepted with the
same verdict as their float64 copy.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from klmath import check_argmax_lemma

H = np.array([[0.0, 1.0], [0.0, 2.0]])
G = np.array([[1.0, 0.0], [0.0, -2.0]])


@pytest.mark.parametrize("kind", [list, tuple])
@pytest.mark.parametrize("which", ["g", "h"])
def test_ragged_table_is_named_as_ragged(kind: type, which: str) -> None:
    ragged = kind([kind([0.0]), kind([0.0, 1.0])])
    args = {"g": G, "h": H, which: ragged}
    message = (
        f"{which} must be a table of shape (n_theta, n_phi), got a ragged "
        f"{kind.__name__} (rows of different lengths)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        check_argmax_lemma(args["g"], args["h"])


@pytest.mark.skipif(
    np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
    reason="np.longdouble is float64 on this platform",
)
@pytest.mark.parametrize("which", ["g", "h"])
def test_extended_precision_table_is_refused(which: str) -> None:
    args = {"g": G, "h": H}
    args[which] = args[which].astype(np.longdouble)
    message = (
        f"{which} has dtype {np.dtype(np.longdouble)} (extended precision): pass "
        f"{which}.astype(np.float64), the precision the lemma is checked in"
    )
    with pytest.raises(TypeError, match=re.escape(message)):
        check_argmax_lemma(args["g"], args["h"])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int8, np.int64])
def test_narrower_tables_give_the_float64_verdict(dtype: type) -> None:
    expected = check_argmax_lemma(G, H)
    got = check_argmax_lemma(G.astype(dtype), H.astype(dtype))
    assert got == expected
