"""Files and entry modules the fuzz cases refer to by name (``{file:NAME}`` in an argv).

Each builder writes one input into a directory and returns its path.  The good inputs are small
(a few samples, dimension <= 4) so that every accepted case runs in well under a second.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["FILES", "build", "describe", "hessians"]


def hessians(n: int, d: int, k: int, seed: int, scale: float = 1.0) -> np.ndarray:
    r"""Dense PSD Hessians :math:`H_i=F_iF_i^\top`, ``(n, d, d)``, from seeded Gaussian factors."""
    f = scale * np.random.default_rng(seed).standard_normal((n, d, k))
    return np.einsum("nik,njk->nij", f, f)


def _good(p: Path) -> None:
    """retain (8, 4, 4) and forget (3, 4, 4) PSD Hessians."""
    np.savez(p, retain=hessians(8, 4, 2, 0), forget=hessians(3, 4, 1, 1, 0.2))


def _strong_forget(p: Path) -> None:
    """a forget set curving a direction no retain Hessian curves."""
    # the forget set curves a direction the retain set does not: escapes at every alpha > 0
    r = hessians(6, 3, 1, 2)
    r[:, 2, :] = 0.0
    r[:, :, 2] = 0.0
    np.savez(p, retain=r, forget=hessians(3, 3, 1, 3))


def _retain_only(p: Path) -> None:
    """retain Hessians only."""
    np.savez(p, retain=hessians(8, 4, 2, 0))


def _misspelled(p: Path) -> None:
    """retain and 'Forget' (misspelled)."""
    np.savez(p, retain=hessians(8, 4, 2, 0), Forget=hessians(3, 4, 1, 1, 0.2))


def _extra_key(p: Path) -> None:
    """retain, forget and an unknown array 'notes'."""
    np.savez(p, retain=hessians(8, 4, 2, 0), forget=hessians(3, 4, 1, 1, 0.2),
             notes=np.zeros(3))


def _neutral(p: Path) -> None:
    """a direction of zero retain curvature and no batch noise (neutral at alpha = 0)."""
    # README-like: one direction curved by no retain Hessian but by the forget set; at alpha = 0
    # the retain mean has lambda_min = 0 there only if the forget set is in the pool.  Simplest
    # neutral case: retain Hessians that all vanish along e_3 except one zero-noise direction.
    h = np.zeros((4, 2, 2))
    h[:, 0, 0] = [1.0, 2.0, 3.0, 4.0]
    f = np.zeros((2, 2, 2))
    f[:, 1, 1] = 1.0
    np.savez(p, retain=h, forget=f)


def _wide(p: Path) -> None:
    """rank-one factors (300, 300, 1): active dimension 300."""
    f = np.random.default_rng(4).standard_normal((300, 300, 1))
    np.savez(p, retain=f, forget=0.1 * f[:5])


def _zero_bytes(p: Path) -> None:
    """an empty file."""
    p.write_bytes(b"")


def _truncated(p: Path) -> None:
    """the first half of a valid npz."""
    buf = io.BytesIO()
    np.savez(buf, retain=hessians(8, 4, 2, 0))
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _non_array_member(p: Path) -> None:
    """a zip whose member is text, not an npy array."""
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("retain.npy", b"this is not an array")


def _plain_npy(p: Path) -> None:
    """a plain .npy array under an .npz name."""
    with open(p, "wb") as fh:
        np.save(fh, hessians(8, 4, 2, 0))


def _object_array(p: Path) -> None:
    """an object (pickled) array."""
    np.savez(p, retain=np.array([hessians(2, 2, 1, 0), None], dtype=object))


def _complex(p: Path) -> None:
    """complex Hessians."""
    np.savez(p, retain=hessians(8, 4, 2, 0) + 1j * 1e-3)


def _huge_header(p: Path) -> None:
    """an npy header claiming (100000, 316, 316) float64 (75 GiB) over 8 bytes."""
    # a valid npy header claiming (100000, 316, 316) float64 (~75 GiB) followed by 8 bytes
    header = {"descr": "<f8", "fortran_order": False, "shape": (100000, 316, 316)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("retain.npy", buf.getvalue() + b"\0" * 8)


def _text_file(p: Path) -> None:
    """a text file where a directory is expected."""
    p.write_text("not a directory\n")


_ENTRY = '''
import torch


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                               torch.nn.Linear(4, 2)).double()


def _sets():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(10, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (10,), generator=g)
    return (X[:7], y[:7]), (X[7:], y[7:])


def ce(o, t):
    return torch.nn.functional.cross_entropy(o, t, reduction="none")


def good():
    r, f = _sets()
    return {"model": _model(), "loss": ce, "retain": r, "forget": f}


def linear():
    """Least squares: w* is the minimum of the training loss and every Hessian is PSD."""
    r, f = _sets()
    X = torch.cat([r[0], f[0]])
    y = (X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
         + 0.1 * torch.sin(torch.arange(10.0, dtype=torch.float64)))
    model = torch.nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(X, y[:, None]).solution.T)

    def sq(o, t):
        return (o[:, 0] - t) ** 2

    return {"model": model, "loss": sq, "retain": (X[:7], y[:7]), "forget": (X[7:], y[7:])}


def string_seed():
    out = good()
    out["seed"] = "zero"
    return out


class Broken(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        raise RuntimeError("disk on fire")


def raising_dataset():
    out = good()
    out["forget"] = Broken()
    return out
'''


def _entry(p: Path) -> None:
    """a diagnose entry module: good() (an untrained MLP), linear() (least squares at its
    minimum), string_seed(), raising_dataset()."""
    p.write_text(textwrap.dedent(_ENTRY))


#: name -> (file name, builder)
FILES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "good": ("good.npz", _good),
    "strong_forget": ("strong_forget.npz", _strong_forget),
    "retain_only": ("retain_only.npz", _retain_only),
    "misspelled": ("misspelled.npz", _misspelled),
    "extra_key": ("extra_key.npz", _extra_key),
    "neutral": ("neutral.npz", _neutral),
    "wide": ("wide_factors.npz", _wide),
    "zero_bytes": ("zero_bytes.npz", _zero_bytes),
    "truncated": ("truncated.npz", _truncated),
    "non_array_member": ("non_array_member.npz", _non_array_member),
    "plain_npy": ("plain_npy.npz", _plain_npy),
    "object_array": ("object_array.npz", _object_array),
    "complex": ("complex.npz", _complex),
    "huge_header": ("huge_header.npz", _huge_header),
    "text_file": ("a_file.txt", _text_file),
    "entry": ("fuzz_entry.py", _entry),
}


def describe(name: str) -> str:
    """One line on what the input ``name`` is (its builder's docstring)."""
    return (FILES[name][1].__doc__ or "").strip().rstrip(".")


def build(name: str, directory: Path) -> Path:
    """Write the input ``name`` into ``directory`` (once) and return its path."""
    fname, builder = FILES[name]
    path = directory / fname
    if not path.exists():
        builder(path)
    return path
