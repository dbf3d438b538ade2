"""A simulated accelerator: a device of its own kind, backed by CPU tensors, for the tests.

A notebook that runs on a GPU server or a Mac puts data and models on `d2l.try_gpu()`, and every
operation that mixes that device with the CPU raises "Expected all tensors to be on the same
device". No CUDA device can be faked on a machine without one, but PyTorch's PrivateUse1 key can
be given a Python backend: `install()` registers the device `sim:0`, on which

- every tensor is a `SimTensor` that holds an ordinary CPU tensor and runs each aten operation on
  it (autograd, optimizers and `.item()` work as on a GPU);
- an operation that mixes a `sim` tensor with a CPU tensor of one or more dimensions raises
  PyTorch's own device-mismatch error (0-dim CPU tensors pass, as they do on CUDA), and so do
  `.numpy()` and NumPy conversions, as on CUDA;
- it has no float64, as Apple's MPS has none, so code that passes here runs on a Mac and on CUDA;
- `torch.accelerator` reports it, so `d2l.try_gpu()`, `try_all_gpus()` and `num_gpus()` answer it
  without any change to d2lutils.

What it cannot show: code behind `device.type == "cuda"` (bf16 autocast, cuDNN, NCCL,
`torch.cuda` calls and timing), the GPU's own random numbers, and MPS's other gaps (operators it
lacks, which fall back to the CPU there).
The tests load it into every notebook kernel (`tools/portable.py`, configuration `accelerator`);
students never import it.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import torch
from torch import nn
from torch.nn.parameter import UninitializedTensorMixin, is_lazy
from torch.utils._pytree import tree_flatten, tree_map

NAME = "sim"
DEVICE = torch.device("privateuseone", 0)  # printed as sim:0 once install() has named it
CPU = torch.device("cpu")
aten = torch.ops.aten
# Operations that move data between devices: mixing devices is their purpose.
_MOVES = (aten._to_copy.default, aten.copy_.default)
# Apple's MPS computes in neither; the simulation refuses them as MPS does.
_NO_DTYPES = (torch.float64, torch.complex128)
# Advanced indexing of an accelerator tensor accepts CPU index tensors, as CUDA does.
_INDEXING = (aten.index.Tensor, aten.index_put.default, aten.index_put_.default,
             aten._index_put_impl_.default)


class SimBackend:
    """The device module PyTorch finds as `torch.sim`: one device, seeded with the CPU."""

    def is_available(self) -> bool:
        return True

    def is_initialized(self) -> bool:
        return True

    def device_count(self) -> int:
        return 1

    def current_device(self) -> int:
        return 0

    def _is_in_bad_fork(self) -> bool:
        return False

    def manual_seed_all(self, seed: int) -> None:
        """Random numbers on the device come from the CPU generator, seeded by manual_seed."""

    def get_rng_state(self, device: Any = None) -> torch.Tensor:
        return torch.empty(0, dtype=torch.uint8)

    def set_rng_state(self, state: torch.Tensor, device: Any = None) -> None:
        """Nothing to restore: the device keeps no generator of its own (fork_rng needs this)."""

    def synchronize(self, device: Any = None) -> None:
        """Every operation has finished when it returns, as after a GPU synchronisation."""


class SimTensor(torch.Tensor):
    """A tensor on `sim:0`: an ordinary CPU tensor (`_local`) behind an accelerator's face."""

    _local: torch.Tensor

    @staticmethod
    def __new__(cls, local: torch.Tensor) -> SimTensor:
        if local.dtype in _NO_DTYPES:
            raise TypeError(f"Cannot convert a {DEVICE} tensor to {local.dtype}: like Apple's MPS, "
                            "the accelerator has no 64-bit floats. Please use float32 instead.")
        return torch.Tensor._make_wrapper_subclass(
            cls, local.shape, strides=local.stride(), storage_offset=local.storage_offset(),
            dtype=local.dtype, layout=local.layout, device=DEVICE,
            requires_grad=local.requires_grad)

    def __init__(self, local: torch.Tensor) -> None:
        self._local = local

    # Flattening makes it a "traceable wrapper subclass": `module.to(device)` then swaps the
    # Parameter objects in place, so an optimizer made before the move still holds them, as on
    # CUDA and MPS (which keep the Parameter objects too).
    def __tensor_flatten__(self) -> tuple[list[str], None]:
        return ["_local"], None

    @staticmethod
    def __tensor_unflatten__(inner: dict, meta: None, outer_size: Any, outer_stride: Any):
        return SimTensor(inner["_local"])

    def __repr__(self, *, tensor_contents: Any = None) -> str:
        """As torch prints a CUDA tensor: the values, then `device='sim:0'`, then autograd."""
        text = repr(self._local.detach())[:-1] + f", device='{DEVICE}'"
        if self.grad_fn is not None:
            text += f", grad_fn=<{type(self.grad_fn).__name__}>"
        elif self.requires_grad:
            text += ", requires_grad=True"
        text += ")"
        return "Parameter containing:\n" + text if getattr(self, "_is_param", False) else text

    def __format__(self, spec: str) -> str:
        if self.dim() == 0:  # f"{loss:.3f}" works on a CUDA scalar
            return self.detach().item().__format__(spec)
        return object.__format__(self, spec)

    def tolist(self) -> Any:
        return self.detach().to(CPU).tolist()

    def numpy(self, *, force: bool = False) -> Any:
        raise TypeError(f"can't convert {DEVICE} device type tensor to numpy. Use Tensor.cpu() "
                        "to copy the tensor to host memory first.")

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return self.numpy()

    def data_ptr(self) -> int:
        return self._local.data_ptr()

    def __deepcopy__(self, memo: dict) -> SimTensor:
        """A copy on the device (`copy.deepcopy(net)`), a Parameter where this is one."""
        if id(self) not in memo:
            copy = SimTensor(self._local.detach().clone()).requires_grad_(self.requires_grad)
            if getattr(self, "_is_param", False):
                copy = torch.nn.Parameter(copy, self.requires_grad)
            memo[id(self)] = copy
        return memo[id(self)]

    def __reduce_ex__(self, protocol: int) -> Any:
        """Saved as a CPU tensor (`torch.save`); CUDA would restore it to the GPU instead."""
        return self._local.detach().__reduce_ex__(protocol)

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return run(func, args, kwargs or {})


def _flat(tree: Any) -> list:
    return tree_flatten(tree)[0]


def _check_one_device(func, args: tuple, kwargs: dict) -> None:
    """Raise PyTorch's own error where an operation mixes `sim` and CPU tensors."""
    if func in _MOVES:
        return
    tensors = [t for t in _flat((args, kwargs)) if isinstance(t, torch.Tensor)]
    if func in _INDEXING and isinstance(args[0], SimTensor):
        tensors = [args[0], *_flat(args[2:])]  # the indices (args[1]) may stay on the CPU
    on_sim = any(isinstance(t, SimTensor) for t in tensors)
    on_cpu = any(not isinstance(t, SimTensor) and t.dim() > 0 for t in tensors)
    if on_sim and on_cpu:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least "
                           f"two devices, {DEVICE} and cpu! (in {func})")


def run(func, args: tuple, kwargs: dict) -> Any:
    """Run one aten operation on the CPU tensors behind its arguments; wrap what it returns."""
    _check_one_device(func, args, kwargs)
    if "device" in kwargs:  # a factory or a move: the device asked for decides
        to_sim = kwargs["device"] is not None and torch.device(kwargs["device"]).type == NAME
        kwargs = {**kwargs, "device": CPU if to_sim else kwargs["device"]}
    else:
        to_sim = any(isinstance(t, SimTensor) for t in _flat(args))
    wrappers = {}

    def unwrap(x: Any) -> Any:
        if isinstance(x, SimTensor):
            wrappers[id(x._local)] = x
            return x._local
        return x

    out = func(*tree_map(unwrap, args), **tree_map(unwrap, kwargs))

    def wrap(x: Any) -> Any:
        if not isinstance(x, torch.Tensor) or isinstance(x, SimTensor):
            return x
        if id(x) in wrappers:  # an in-place operation returns its own argument
            return wrappers[id(x)]
        return SimTensor(x) if to_sim else x

    return tree_map(wrap, out)


def _on_backend(op, *args: Any, **kwargs: Any) -> Any:
    """Operations that reach the `sim` key with no SimTensor argument: factories (`torch.zeros(3,
    device=dev)`, `randperm`) and the empty tensors a CPU tensor's `.to(dev)` copies into."""
    if any(isinstance(t, SimTensor) for t in _flat((args, kwargs))):
        return run(op, args, kwargs)
    return SimTensor(op(*args, **{**kwargs, "device": CPU}))


# --------------------------------------------------------------------------- modules on the device
# `net.to(dev)` on CUDA or MPS changes each Parameter's data in place (`param.data = ...`), which
# a wrapper tensor cannot do. Swapping the Parameter's contents keeps its identity just as well;
# where a live autograd graph still holds a Parameter PyTorch refuses the swap, and the module
# gets a new Parameter instead. Lazy parameters remember the device they are to materialise on.

_module_apply = nn.Module._apply
_materialize = UninitializedTensorMixin.materialize


def _moves_to_device(fn: Any) -> bool:
    """Whether a Module._apply function moves tensors onto the simulated device."""
    try:
        return isinstance(fn(torch.empty(0)), SimTensor)
    except Exception:  # not a conversion a probe can answer: leave tensors as they are
        return False


def _apply(module: nn.Module, fn: Any, recurse: bool = True) -> nn.Module:
    """nn.Module._apply with CUDA's outcome: Parameters kept, lazy ones placed when they appear."""
    if recurse:
        for child in module.children():
            child._apply(fn)
    tables = (module._parameters, module._buffers)
    lazy = {(i, name): t for i, table in enumerate(tables) for name, t in table.items()
            if is_lazy(t)}
    if lazy:
        to_device = _moves_to_device(fn)
        for t in lazy.values():
            t._sim_device = to_device
    orders = [list(table) for table in tables]
    for i, name in lazy:  # hidden from the conversion, which cannot handle them on a wrapper
        del tables[i][name]
    try:
        try:
            _module_apply(module, fn, recurse=False)
        except RuntimeError as error:
            if "Couldn't swap" not in str(error):
                raise
            with mock.patch.object(nn.modules.module, "is_traceable_wrapper_subclass",
                                   lambda t: False):
                _module_apply(module, fn, recurse=False)
    finally:
        for i, (table, order) in enumerate(zip(tables, orders)):
            restored = {name: lazy.get((i, name), table.get(name)) for name in order}
            table.clear()
            table.update(restored)
    return module


def _materialize_on_device(self: Any, shape: Any, device: Any = None, dtype: Any = None) -> None:
    """UninitializedTensorMixin.materialize, onto the simulated device if the module went there."""
    if device is not None or not getattr(self, "_sim_device", False):
        return _materialize(self, shape, device, dtype)
    empty = torch.empty(shape, dtype=dtype or self.data.dtype, device=DEVICE)
    if issubclass(self.cls_to_become, nn.Parameter):
        empty = nn.Parameter(empty, self.requires_grad)
    torch.utils.swap_tensors(self, empty)


_libraries: list[torch.library.Library] = []


def install() -> torch.device:
    """Register the `sim` device once per process; return it (then `torch.accelerator` has it)."""
    if _libraries:
        return DEVICE
    torch.utils.backend_registration._setup_privateuseone_for_python_backend(
        NAME, backend_module=SimBackend())
    impl = torch.library.Library("aten", "IMPL")
    # The empty tensors a CPU tensor's `.to(dev)` copies into, and the copy itself where C++
    # runs it with Python dispatch turned off (`torch.tensor(data, device=dev)`).
    for name, op in (("empty.memory_format", aten.empty.memory_format),
                     ("empty_strided", aten.empty_strided.default),
                     ("copy_", aten.copy_.default)):
        impl.impl(name, lambda *a, _op=op, **k: _on_backend(_op, *a, **k), "PrivateUse1")
    fallback = torch.library.Library("_", "IMPL")
    fallback.fallback(_on_backend, "PrivateUse1")
    _libraries.extend([impl, fallback])  # a Library unregisters itself when collected
    nn.Module._apply = _apply
    UninitializedTensorMixin.materialize = _materialize_on_device
    # A Python device guard cannot synchronise; every operation here has finished on return.
    torch.accelerator.synchronize = SimBackend().synchronize
    return DEVICE
