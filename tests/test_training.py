"""Training loops and metrics on small synthetic problems (seconds on a CPU)."""

import copy
import json

import pytest
import torch
from torch import nn

from d2lutils import training


def blobs(n=512, seed=0):
    """Three well separated Gaussian classes in 2-D, as (X, y) batches of 64."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.tensor([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])
    y = torch.randint(0, 3, (n,), generator=g)
    X = centers[y] + torch.randn(n, 2, generator=g)
    return [(X[i:i + 64], y[i:i + 64]) for i in range(0, n, 64)]


def test_accumulator_and_timer():
    acc = training.Accumulator(2)
    acc.add(1, torch.tensor(2.0))
    acc.add(3, 4)
    assert (acc[0], acc[1]) == (4.0, 6.0)
    acc.reset()
    assert acc.data == [0.0, 0.0]
    timer = training.Timer()
    for _ in range(3):
        timer.start()
        timer.stop()
    assert len(timer.times) == 3 and timer.sum() >= 0
    assert timer.cumsum()[-1] == pytest.approx(timer.sum())
    assert timer.avg() == pytest.approx(timer.sum() / 3)


def test_accuracy_counts_on_device():
    y_hat = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    hits = training.accuracy(y_hat, torch.tensor([1, 0, 0]))
    assert isinstance(hits, torch.Tensor) and hits.item() == 2
    assert training.accuracy(torch.tensor([1, 0]), torch.tensor([1, 1])).item() == 1


def test_linreg_squared_loss_and_sgd():
    X = torch.tensor([[1.0, 2.0]])
    w = torch.tensor([[3.0], [4.0]], requires_grad=True)
    b = torch.tensor([1.0], requires_grad=True)
    y_hat = training.linreg(X, w, b)
    assert y_hat.item() == 12.0
    loss = training.squared_loss(y_hat, torch.tensor([10.0]))
    assert loss.item() == 2.0
    loss.sum().backward()
    training.sgd([w, b], lr=0.5, batch_size=1)
    assert torch.allclose(w.detach(), torch.tensor([[2.0], [2.0]]))  # grad_w = (y_hat - y) * x
    assert torch.allclose(b.detach(), torch.tensor([0.0])) and b.grad is None


def test_evaluate_accuracy_counts_in_eval_mode_and_restores_training_mode():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5))
    batches = blobs()
    with torch.no_grad():  # by hand, without dropout: what evaluation must count
        hits = sum(int((net[0](X).argmax(1) == y).sum()) for X, y in batches)
    net.train()
    assert training.evaluate_accuracy(net, batches) == hits / 512 and net.training
    net.eval()
    assert training.evaluate_accuracy(net, batches) == hits / 512 and not net.training


def test_evaluate_loss_is_the_mean_per_example_loss():
    batches = [(torch.ones(4, 1), torch.full((4,), 3.0)), (torch.zeros(2, 1), torch.ones(2))]
    # squared_loss shapes y like y_hat itself: (2 - 3)^2 / 2 four times, (0 - 1)^2 / 2 twice
    assert training.evaluate_loss(lambda X: 2 * X, batches, training.squared_loss) == 0.5
    mse = nn.MSELoss(reduction="none")
    assert training.evaluate_loss(lambda X: 2 * X, [(torch.ones(4, 1), torch.full((4, 1), 3.0))],
                                  mse) == 1.0


def test_evaluate_loss_is_in_eval_mode_and_restores_training_mode():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Dropout(0.5))
    batches, loss = blobs(), nn.CrossEntropyLoss(reduction="none")
    net.eval()
    with torch.no_grad():  # by hand, in eval mode: no dropout, BN on its running statistics
        expected = sum(float(loss(net(X), y).sum()) for X, y in batches) / 512
    stats = net[1].running_mean.clone()
    net.train()
    assert abs(training.evaluate_loss(net, batches, loss) - expected) < 1e-6 and net.training
    assert torch.equal(net[1].running_mean, stats), "evaluation leaves the BN statistics alone"


def test_train_ch3_with_optimizer_learns():
    torch.manual_seed(0)
    net = nn.Linear(2, 3)
    result = training.train_ch3(net, blobs(), blobs(seed=1), nn.CrossEntropyLoss(reduction="none"),
                                5, torch.optim.SGD(net.parameters(), lr=0.1), animate=False)
    assert len(result.history) == 5
    assert result.history[-1][0] < result.history[0][0]
    assert result.test_acc > 0.95


class Wrapped:
    """An iterator over batches with nothing else, like chapter 36's AugmentedBatches."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def test_train_ch3_counts_the_examples_of_any_iterator():
    torch.manual_seed(0)
    net = nn.Linear(2, 3)
    result = training.train_ch3(net, Wrapped(blobs()), blobs(seed=1), nn.CrossEntropyLoss(), 2,
                                torch.optim.SGD(net.parameters(), lr=0.1), animate=False)
    assert result.examples_per_sec == pytest.approx(2 * 512 / result.train_seconds)
    assert result.device == "cpu"


def test_train_ch3_and_train_ch6_share_one_epoch():
    torch.manual_seed(0)
    net3 = nn.Linear(2, 3)
    net6 = copy.deepcopy(net3)
    r3 = training.train_ch3(net3, blobs(), blobs(seed=1), nn.CrossEntropyLoss(), 3,
                            torch.optim.SGD(net3.parameters(), lr=0.1), animate=False)
    r6 = training.train_ch6(net6, blobs(), blobs(seed=1), 3, 0.1, "cpu",
                            optimizer=torch.optim.SGD(net6.parameters(), lr=0.1), init=False,
                            channels_last=False, animate=False, verbose=False)
    assert r3.history == r6.history  # the same steps, bit for bit
    assert torch.equal(net3.weight, net6.weight)


def test_train_ch3_from_scratch_updater_learns():
    torch.manual_seed(0)
    W = torch.zeros(2, 3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)

    def net(X):
        return X @ W + b

    def loss(y_hat, y):
        return nn.functional.cross_entropy(y_hat, y, reduction="none")

    result = training.train_ch3(net, blobs(), blobs(seed=1), loss, 3,
                                lambda n: training.sgd([W, b], 0.1, n), animate=False)
    assert result.history[-1][0] < result.history[0][0] and result.test_acc > 0.95


def test_train_ch6_lazy_conv_net(capsys):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    X = torch.rand(128, 1, 8, 8, generator=g)
    y = (X.mean(dim=(1, 2, 3)) > 0.5).long()
    batches = [(X[i:i + 32], y[i:i + 32]) for i in range(0, 128, 32)]
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    result = training.train_ch6(net, batches, batches, 15, 0.5, "cpu", animate=False)
    out = capsys.readouterr().out
    assert out.startswith("loss ") and "train acc" in out and "examples/sec on cpu" in out
    assert result.history[-1][0] < result.history[0][0]
    assert result.examples_per_sec > 0 and result.device == "cpu"
    assert result.summary() == out.strip()


def test_init_xavier_sets_uniform_bounds():
    layer = nn.Linear(100, 300)
    training.init_xavier(layer)
    bound = (6 / (100 + 300)) ** 0.5
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.9 * bound
    training.init_xavier(nn.LazyLinear(3))  # uninitialised lazy layers are left alone


def _tiny_conv_run(channels_last: bool, flat_input: bool = False):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    X = torch.rand(64, 1, 8, 8, generator=g)
    y = (X.mean(dim=(1, 2, 3)) > 0.5).long()
    if flat_input:
        X = X.flatten(1)
        net = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 2))
    else:
        net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
    batches = [(X[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    result = training.train_ch6(net, batches, batches, 3, 0.5, "cpu", channels_last=channels_last,
                                animate=False, verbose=False)
    return result, net


def test_train_ch6_channels_last_is_the_same_computation():
    plain, _ = _tiny_conv_run(False)
    fast, net = _tiny_conv_run(True)
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(plain.history, fast.history):
        assert a == pytest.approx(b, abs=1e-5)


def test_train_ch6_channels_last_default_leaves_mlp_inputs_alone():
    default, _ = _tiny_conv_run(None, flat_input=True)  # 2-D inputs: no layout to change
    plain, _ = _tiny_conv_run(False, flat_input=True)
    assert default.history == plain.history


def test_train_ch6_optimizer_by_name():
    torch.manual_seed(0)
    X, y = torch.rand(16, 1, 8, 8), torch.randint(0, 2, (16,))
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    training.train_ch6(net, [(X, y)], [(X, y)], 1, 1e-2, "cpu", optimizer="adam",
                       animate=False, verbose=False)  # materialises the lazy layer
    before = [p.detach().clone() for p in net.parameters()]
    training.train_ch6(net, [(X, y)], [(X, y)], 1, 1e-2, "cpu", optimizer="adam", init=False,
                       animate=False, verbose=False)
    for old, new in zip(before, net.parameters()):
        # Adam's first step moves every weight by lr (times the gradient's sign), SGD would not
        assert (new.detach() - old).abs().max() == pytest.approx(1e-2, rel=1e-3)


def test_train_ch6_unknown_optimizer_fails_before_training():
    net = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'.*sgd, adam"):
        training.train_ch6(net, [], [], 1, 0.1, "cpu", optimizer="adamw", animate=False)


def test_train_ch6_cosine_schedule_ends_at_zero_learning_rate():
    torch.manual_seed(0)
    X, y = torch.rand(16, 1, 8, 8), torch.randint(0, 2, (16,))
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    lrs = []

    class LearningRateProbe:
        """A test iterator: train_ch6 reads it once an epoch, after the epoch's schedule step."""

        def __iter__(self):
            lrs.append(optimizer.param_groups[0]["lr"])
            return iter([(X, y)])

    training.train_ch6(net, [(X, y)], LearningRateProbe(), 4, 0.1, "cpu", optimizer=optimizer,
                       schedule="cosine", animate=False, verbose=False)
    # cosine over 4 epochs: epoch t + 1 trains at 0.1 * (1 + cos(pi * t / 4)) / 2, ending at 0
    assert lrs == pytest.approx([0.0853553, 0.05, 0.0146447, 0.0], abs=1e-6)


def test_train_ch6_unknown_schedule_fails_before_training():
    with pytest.raises(ValueError, match="unknown schedule 'step'.*cosine"):
        training.train_ch6(nn.Linear(2, 2), [], [], 1, 0.1, "cpu", schedule="step", animate=False)


def test_first_epoch_with_book_optimizer_trains_the_book_setting_beside_the_run(capsys):
    from d2lutils import scales

    def make_net():
        return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))

    data = blobs()
    full = dict(optimizer="sgd", lr=0.1)
    book_hp = scales.hparams(full, quick=dict(), scale="quick")
    assert training.first_epoch_with_book_optimizer(make_net, book_hp, data, data, "cpu",
                                                    None) is None  # the book's own setting
    hp = scales.hparams(full, quick=dict(optimizer="adam", lr=1e-2), scale="quick")
    scales.seed_everything()
    run = training.train_ch6(make_net(), data, data, 2, hp.lr, "cpu", optimizer=hp.optimizer,
                             animate=False, verbose=False)
    book = training.first_epoch_with_book_optimizer(make_net, hp, data, data, "cpu", run)
    lines = capsys.readouterr().out.splitlines()
    assert len(book.history) == 1 and len(lines) == 2
    assert lines[0].startswith("epoch 1, book's sgd") and "lr 0.1 " in lines[0]
    assert lines[1].startswith("epoch 1, adam") and f"loss {run.history[0][0]:.3f}" in lines[1]
    scales.seed_everything()  # the book's run starts from the run's seed: it is reproducible
    again = training.train_ch6(make_net(), data, data, 1, 0.1, "cpu", animate=False,
                               verbose=False)
    assert again.history == book.history


def test_train_ch6_in_bf16_autocast_learns_on_the_cpu():
    """amp=True is CUDA's default; bf16 autocast runs on the CPU too, so its path is tested here."""
    torch.manual_seed(0)
    batches = [(X.reshape(-1, 1, 1, 2), y) for X, y in blobs()]
    net = nn.Sequential(nn.Conv2d(1, 8, 1), nn.ReLU(), nn.Flatten(), nn.Linear(16, 3))
    result = training.train_ch6(net, batches, batches, 3, 0.1, "cpu", amp=True, animate=False,
                                verbose=False)
    assert result.history[-1][0] < result.history[0][0] and result.test_acc > 0.9
    assert net[0].weight.dtype == torch.float32  # autocast computes in bf16, keeps fp32 weights


def test_options_after_the_device_are_keyword_only():
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 3))
    with pytest.raises(TypeError):
        training.train_ch6(net, blobs(), blobs(), 1, 0.1, "cpu", "adam")
    with pytest.raises(TypeError):
        training.train_ch3(net, blobs(), blobs(), nn.CrossEntropyLoss(), 1,
                           torch.optim.SGD(net.parameters(), lr=0.1), False)


def test_curves_grow_within_an_epoch_with_few_host_reads(monkeypatch):
    """About five points per epoch, as the book's train_ch6 draws; the host reads the running
    sums only at those points, never once per batch."""
    points = []
    monkeypatch.setattr(training.Animator, "add", lambda self, x, y: points.append((x, y)))
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 3))
    batches = blobs(n=1280)  # 20 batches
    training.train_ch6(net, batches, batches, 2, 0.1, "cpu", verbose=False)
    xs = [x for x, _ in points]
    assert xs == sorted(xs) and len(xs) == 2 * training.POINTS_PER_EPOCH
    assert xs[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    points.clear()
    training.train_ch6(net, batches[:8], batches[:8], 1, 0.1, "cpu", verbose=False)
    assert [x for x, _ in points] == pytest.approx([0.25, 0.375, 0.625, 0.75, 1.0])
    inside = [y for x, y in points if x % 1]
    assert all(test is None and 0 < loss and 0 <= acc <= 1 for loss, acc, test in inside)


def test_a_runner_gets_every_run_recorded(tmp_path, monkeypatch):
    path = tmp_path / "runs.jsonl"
    monkeypatch.setenv(training.RESULTS_VAR, str(path))
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 3))
    training.train_ch6(net, blobs(), blobs(), 2, 0.1, "cpu", animate=False, verbose=False,
                       label="blobs")
    training.train_ch3(net, blobs(), blobs(), nn.CrossEntropyLoss(reduction="none"), 1,
                       torch.optim.SGD(net.parameters(), lr=0.1), animate=False)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["label"], r["epochs"]) for r in lines] == [("blobs", 2), (None, 1)]
    assert lines[0]["test_acc"] > 0.9 and lines[0]["device"] == "cpu"
