"""The simulated device behaves as a GPU does where notebooks meet it.

Installing it changes `torch.accelerator` for the whole process, so these checks run in a process
of their own (tests/test_accelerator.py starts it); pytest does not collect this file by itself.
"""

import copy
import io

import pytest
import torch
from torch import nn

import d2lutils as d2l
from d2lutils.data import TensorBatches
from tools import accelerator

DEVICE = accelerator.install()  # once per process; the CPU tests' tensors stay ordinary


def on_device(t: torch.Tensor) -> bool:
    return isinstance(t, accelerator.SimTensor) and t.device == DEVICE


def test_d2l_finds_it_as_the_accelerator():
    assert d2l.try_gpu() == DEVICE and d2l.try_all_gpus() == [DEVICE] and d2l.num_gpus() == 1
    assert d2l.try_gpu(1) == torch.device("cpu")
    assert str(DEVICE) == "sim:0"


def test_mixing_devices_raises_pytorchs_own_error():
    x = torch.ones(3, device=DEVICE)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x + torch.ones(3)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch.equal(torch.ones(3), x)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        nn.Linear(3, 2)(x)
    with pytest.raises(TypeError, match="can't convert sim:0 device type tensor to numpy"):
        x.numpy()


def test_what_cuda_allows_is_allowed():
    x = torch.arange(6.0, device=DEVICE).reshape(2, 3)
    assert on_device(x * torch.tensor(2.0))  # a 0-dim CPU tensor is a scalar, as on CUDA
    assert on_device(x[torch.tensor([1, 0])])  # CPU indices into a device tensor
    assert x.to("cpu").device.type == "cpu" and on_device(torch.zeros(2).to(DEVICE))
    cpu = torch.empty(2, 3)
    cpu.copy_(x)
    assert torch.equal(cpu, torch.arange(6.0).reshape(2, 3))
    assert f"{x.sum():.1f}" == "15.0" and x.sum().item() == 15.0 and x.tolist()[1] == [3, 4, 5]
    assert repr(x.sum()) == "tensor(15., device='sim:0')"


def test_factories_and_random_numbers_land_on_the_device():
    torch.manual_seed(0)
    cpu = torch.randn(4)
    torch.manual_seed(0)
    sim = torch.randn(4, device=DEVICE)
    assert torch.equal(sim.cpu(), cpu)  # the CPU generator: a run repeats on the simulation
    assert on_device(torch.zeros(3, device=DEVICE)) and on_device(torch.randperm(5, device=DEVICE))


def test_training_steps_and_keeps_the_parameter_objects():
    """`net.to(device)` after the optimizer was made keeps the Parameters, as CUDA and MPS do."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    weight = net[0].weight
    net.to(DEVICE)
    assert net[0].weight is weight and on_device(weight) and isinstance(weight, nn.Parameter)
    X, y = torch.randn(64, 3, device=DEVICE), torch.randn(64, 1, device=DEVICE)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(net(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert on_device(weight.grad) and on_device(net[2].running_mean)
    assert losses[-1] < losses[0]


def test_copies_and_saves_like_a_gpu_model():
    net = nn.Linear(3, 2).to(DEVICE)
    clone = copy.deepcopy(net)
    assert on_device(clone.weight) and isinstance(clone.weight, nn.Parameter)
    assert clone.weight is not net.weight and torch.equal(clone.weight, net.weight)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    restored = nn.Linear(3, 2)
    restored.load_state_dict(torch.load(buffer))
    assert torch.equal(restored.weight, net.weight.cpu())


def test_the_book_loop_trains_on_it():
    train = TensorBatches(torch.randint(0, 255, (64, 1, 8, 8), dtype=torch.uint8),
                              torch.randint(0, 10, (64,)), 32, shuffle=True, device=DEVICE)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    result = d2l.train_ch6(net, train, train, 2, 0.1, DEVICE, animate=False, verbose=False)
    assert result.device == "sim" and on_device(net[1].weight)
    assert d2l.evaluate_loss(net, [(torch.rand(4, 1, 8, 8), torch.arange(4))],
                             nn.CrossEntropyLoss(reduction="none")) > 0


def test_lazy_layers_materialise_where_their_module_went():
    net = nn.Sequential(nn.Flatten(), nn.LazyLinear(4), nn.LazyBatchNorm1d()).to(DEVICE)
    assert net(torch.rand(2, 1, 3, 3, device=DEVICE)).shape == (2, 4)
    assert on_device(net[1].weight) and isinstance(net[1].weight, nn.Parameter)
    assert net[1].weight.shape == (4, 9) and on_device(net[2].running_mean)
    cpu = nn.LazyLinear(2)
    assert cpu(torch.rand(2, 3)).device.type == "cpu"  # a CPU module stays on the CPU
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        nn.LazyLinear(2).to(DEVICE)(torch.rand(2, 3))


def test_a_module_with_a_live_graph_moves_too():
    """A demo's output still holds the CPU parameters (autograd refuses a swap): CUDA moves the
    module anyway, and so does the simulation, with new Parameter objects."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(32, 3))
    demo = net(torch.rand(1, 1, 6, 6))
    net.to(DEVICE)
    assert on_device(net[0].weight) and on_device(net(torch.rand(1, 1, 6, 6, device=DEVICE)))
    assert demo.device.type == "cpu"


def test_no_float64_as_on_a_mac():
    with pytest.raises(TypeError, match="no 64-bit floats"):
        torch.zeros(2, dtype=torch.float64, device=DEVICE)
    with pytest.raises(TypeError, match="no 64-bit floats"):
        torch.zeros(2, device=DEVICE).double()
    with pytest.raises(TypeError, match="no 64-bit floats"):
        nn.Linear(2, 2).double().to(DEVICE)
    assert not d2l.has_float64(DEVICE) and d2l.has_float64("cpu")
    d2l.synchronize(DEVICE)  # accepted, as on CUDA and MPS
