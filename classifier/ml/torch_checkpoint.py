"""Read a PyTorch checkpoint in the legacy (non-zip) serialization into numpy arrays, without torch.

The legacy file is a run of pickles: a magic number, the protocol version, a dict of system
facts, the object itself (here an OrderedDict of tensors whose storages are pickled as
persistent ids), the list of storage keys in file order, and then, for every key, its element
count as a little-endian int64 followed by the raw elements.

Unpickling calls whatever callables a file names, so a checkpoint read with plain `pickle` can
run arbitrary code. This reader allows exactly the globals that format needs and refuses
everything else before anything is called. Torch stays out of the dependencies: on a user's
machine `pip install torch` pulls gigabytes of CUDA packages for reading 17 MB of floats.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
from dataclasses import dataclass

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class ForbiddenGlobalError(pickle.UnpicklingError):
    """The pickle names a global this reader does not allow (it may be trying to run code)."""


class CheckpointFormatError(ValueError):
    """The file is not a well-formed legacy PyTorch checkpoint."""


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        return _STORAGE_DTYPES[self.name]


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    # Stands in for torch._utils._rebuild_tensor_v2: records where the tensor's data lives; the
    # data itself follows the pickle and is attached afterwards.
    if not isinstance(storage, _StorageRef):
        raise CheckpointFormatError("a tensor refers to something that is not a storage")
    if not (
        isinstance(storage_offset, int)
        and isinstance(size, tuple)
        and isinstance(stride, tuple)
        and len(size) == len(stride)
        and all(isinstance(n, int) and n >= 0 for n in (*size, *stride))
    ):
        raise CheckpointFormatError("a tensor has a malformed offset, size or stride")
    return _TensorRef(storage, storage_offset, size, stride)


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles the pieces of a legacy checkpoint; refuses any global it does not know."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in _ALLOWED_GLOBALS)
            raise ForbiddenGlobalError(
                f"refusing to unpickle {module}.{name}: a legacy PyTorch checkpoint may only "
                f"name {allowed}"
            ) from None

    def persistent_load(self, pid):
        # ("storage", storage type, key, location, element count, view metadata)
        if not (isinstance(pid, tuple) and len(pid) == 5 + 1 and pid[0] == "storage"):
            raise CheckpointFormatError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str):
            raise CheckpointFormatError(f"unexpected storage reference {pid!r:.80}")
        if not isinstance(numel, int) or view_metadata is not None:
            raise CheckpointFormatError("storage views are not supported")
        return _StorageRef(key, storage_type.dtype, numel)


def _load_pickle(stream: io.BufferedIOBase):
    return RestrictedUnpickler(stream).load()


def _collect_tensors(obj, out: list[_TensorRef]) -> None:
    if isinstance(obj, _TensorRef):
        out.append(obj)
    elif isinstance(obj, dict):
        for value in obj.values():
            _collect_tensors(value, out)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _collect_tensors(value, out)


def _materialise(obj, storages: dict[str, np.ndarray]):
    if isinstance(obj, _TensorRef):
        data = storages[obj.storage.key]
        itemsize = data.dtype.itemsize
        last = obj.offset + sum((n - 1) * s for n, s in zip(obj.shape, obj.stride, strict=True))
        if obj.offset < 0 or (all(obj.shape) and last >= data.size):
            raise CheckpointFormatError("a tensor reaches past the end of its storage")
        view = np.lib.stride_tricks.as_strided(
            data[obj.offset :],
            shape=obj.shape,
            strides=tuple(s * itemsize for s in obj.stride),
            writeable=False,
        )
        return np.array(view, dtype=data.dtype.newbyteorder("="))
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialise(v, storages)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialise(v, storages) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialise(v, storages) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v, storages) for v in obj)
    return obj


def read_legacy_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Return the state dict stored in a legacy-format `.pth` file as numpy arrays.

    Raises ForbiddenGlobalError when the file names any global outside the format's few, and
    CheckpointFormatError when it is not a legacy checkpoint (for instance the newer zip format).
    """
    with open(path, "rb") as stream:
        if stream.peek(2)[:2] == b"PK":
            raise CheckpointFormatError(
                f"{path} is a zip-format checkpoint; only the legacy format is supported"
            )
        if _load_pickle(stream) != LEGACY_MAGIC_NUMBER:
            raise CheckpointFormatError(f"{path} is not a legacy PyTorch checkpoint")
        if _load_pickle(stream) != LEGACY_PROTOCOL_VERSION:
            raise CheckpointFormatError(f"{path} has an unsupported protocol version")
        sys_info = _load_pickle(stream)
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
            raise CheckpointFormatError(f"{path} was written on a big-endian machine")
        obj = _load_pickle(stream)
        storage_keys = _load_pickle(stream)
        if not (isinstance(storage_keys, list) and all(isinstance(k, str) for k in storage_keys)):
            raise CheckpointFormatError(f"{path} has a malformed storage key list")

        refs: list[_TensorRef] = []
        _collect_tensors(obj, refs)
        declared = {ref.storage.key: ref.storage for ref in refs}
        if set(declared) - set(storage_keys):
            raise CheckpointFormatError(f"{path} refers to storages it does not contain")

        storages: dict[str, np.ndarray] = {}
        for key in storage_keys:
            (numel,) = struct.unpack("<q", stream.read(8))
            storage = declared.get(key)
            if storage is None or numel != storage.numel:
                raise CheckpointFormatError(f"{path}: storage {key} does not match its tensors")
            raw = stream.read(numel * storage.dtype.itemsize)
            if len(raw) != numel * storage.dtype.itemsize:
                raise CheckpointFormatError(f"{path} ends inside storage {key}")
            storages[key] = np.frombuffer(raw, dtype=storage.dtype)
    state = _materialise(obj, storages)
    if not isinstance(state, dict):
        raise CheckpointFormatError(f"{path} does not hold a state dict")
    return state
