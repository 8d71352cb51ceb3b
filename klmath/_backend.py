"""The one place that tells NumPy from torch.

klmath computes with torch and converts at the edges: a NumPy array comes in
through :func:`torch.from_numpy` (no copy, same bits) and the result goes back
with ``.numpy()``. So a formula is written once, NumPy float64 results equal
the torch float64 results bit for bit, and NumPy users get torch's batched
LAPACK, which NumPy lacks for triangular solves.

torch is imported when first needed, not when this module is imported. That is
the package's import discipline (checked by ``tests/test_import_cost.py``): a
module imports torch inside the functions that compute with it (or, for a type
annotation, under ``typing.TYPE_CHECKING``), and looks at a tensor without
importing torch by :func:`is_tensor`, which consults ``sys.modules`` as einops'
backends do. Only modules that nothing imports eagerly may import torch at their
top: those ``klmath/__init__.py`` loads on first use of one of their names
(``AffineCoupling`` subclasses ``nn.Module``), and the built-in closed forms of
:func:`klmath.kl`, registered on its first call.
"""

from __future__ import annotations

import numbers
import sys
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["ArrayKind", "array_kind", "as_tensors", "from_torch", "is_tensor", "to_torch"]

ArrayKind = Literal["numpy", "torch"]


def is_tensor(x: object) -> bool:
    """Whether ``x`` is a torch tensor (False without importing torch if torch is not loaded)."""
    torch_module = sys.modules.get("torch")
    return torch_module is not None and isinstance(x, torch_module.Tensor)


def array_kind(**arrays: object) -> ArrayKind:
    """Return "torch" if any argument is a tensor, else "numpy".

    Python numbers are allowed with either kind. Raises TypeError, naming the
    arguments, when NumPy arrays and torch tensors are mixed (convert one side
    explicitly: ``torch.from_numpy(a)`` or ``t.detach().cpu().numpy()``), or when
    an argument is neither an array, a tensor nor a real number.
    """
    tensors = [name for name, x in arrays.items() if is_tensor(x)]
    ndarrays = [name for name, x in arrays.items() if isinstance(x, np.ndarray)]
    for name, x in arrays.items():
        if name in tensors or name in ndarrays:
            continue
        if not isinstance(x, numbers.Real):
            raise TypeError(
                f"{name} must be a NumPy array, a torch tensor or a real number, "
                f"got {type(x).__name__}"
            )
    if tensors and ndarrays:
        raise TypeError(
            f"cannot mix NumPy arrays ({', '.join(ndarrays)}) with torch tensors "
            f"({', '.join(tensors)}); convert them to one kind first"
        )
    return "torch" if tensors else "numpy"


def to_torch(x: Any, name: str, like: torch.Tensor | None = None) -> torch.Tensor:
    """Return ``x`` as a floating torch tensor, without copying NumPy data where possible.

    Integer and boolean inputs become float64 (NumPy, Python numbers) or the
    default torch dtype (tensors). Complex and half-precision inputs raise a
    TypeError naming the argument. ``like`` gives the device for Python numbers.
    """
    import torch

    if isinstance(x, torch.Tensor):
        t = x
        if not (t.is_floating_point() or t.is_complex()):
            t = t.to(torch.get_default_dtype())
    else:
        a = np.asarray(x)
        if a.dtype.kind in "biu":
            a = a.astype(np.float64)
        elif a.dtype.kind == "f" and a.dtype.itemsize < 4:
            raise TypeError(f"{name} must be float32 or float64, got {a.dtype}")
        elif a.dtype.kind != "f":
            raise TypeError(f"{name} must be a real floating array, got dtype {a.dtype}")
        if not a.flags.writeable:
            # torch.from_numpy warns on read-only arrays; a copy is cheap next to the math.
            a = a.copy()
        t = torch.from_numpy(a)
        if like is not None:
            t = t.to(like.device)
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    return t


def from_torch(t: torch.Tensor, kind: ArrayKind) -> Any:
    """Return ``t`` as the kind the caller passed in: the tensor itself, or a NumPy array."""
    if kind == "torch":
        return t
    return t.detach().cpu().numpy()


def as_tensors(**arrays: object) -> tuple[ArrayKind, list[torch.Tensor]]:
    """Return the input kind and the arguments as tensors of one dtype on one device.

    The dtype is the promotion of the array arguments' dtypes (float32 with
    float64 gives float64); Python numbers take that dtype and device. Raises
    TypeError for mixed kinds or unsupported dtypes and ValueError for tensors
    on different devices, naming the arguments.
    """
    import torch

    kind = array_kind(**arrays)
    tensors = {name: to_torch(x, name) for name, x in arrays.items()}
    typed = [name for name, x in arrays.items() if not isinstance(x, numbers.Real)]
    if not typed:
        typed = list(arrays)
    dtype = tensors[typed[0]].dtype
    for name in typed[1:]:
        dtype = torch.promote_types(dtype, tensors[name].dtype)
    device = tensors[typed[0]].device
    for name in typed[1:]:
        if tensors[name].device != device:
            raise ValueError(
                f"{name} is on {tensors[name].device} but {typed[0]} is on {device}; "
                "put all arguments on one device"
            )
    return kind, [t.to(device=device, dtype=dtype) for t in tensors.values()]
