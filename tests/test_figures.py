"""The book's schematics show the real numbers and shapes, fit a slide, and reject bad input."""

import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from d2lutils import figures, models  # noqa: E402
from d2lutils.models import Residual  # noqa: E402

X = torch.arange(9.0).reshape(3, 3)  # the book's examples
K = torch.arange(4.0).reshape(2, 2)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def check_slide(fig) -> None:
    """At most 9 x 4.5 inches, no font under 8 pt, no text cut off or on top of another."""
    width, height = fig.get_size_inches()
    assert width <= 9.0 and height <= 4.5, (width, height)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for t in fig.findobj(Text):
        if not t.get_text() or not t.get_visible():
            continue
        assert t.get_fontsize() >= 8, (t.get_text(), t.get_fontsize())
        box = t.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1, t.get_text()
        assert box.x1 <= fig.bbox.width + 1 and box.y1 <= fig.bbox.height + 1, t.get_text()
        boxes.append((t.get_text(), box))
    for k, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[k + 1:]:
            overlap_w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            overlap_h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            assert overlap_w <= 1 or overlap_h <= 1, (a, b)


def equation(fig) -> tuple[float, float]:
    """The sum of the products on the equation line, and the value after its last '='."""
    line = next(t for t in texts(fig) if "×" in t and "=" in t)
    parts = line.split(" = ")
    terms = parts[0].replace("(", "").replace(")", "").split(" + ")
    total = sum(math.prod(float(f) for f in term.split("×")) for term in terms)
    return total, float(parts[-1])


def test_conv2d_shows_the_outputs_of_conv2d_and_sums_the_window():
    fig = figures.draw_conv2d(X, K)
    check_slide(fig)
    Y = F.conv2d(X[None, None], K[None, None])[0, 0]
    assert torch.equal(fig.d2l_output, Y)
    shown = texts(fig)
    assert all(str(int(v)) in shown for v in Y.flatten())  # 19, 25, 37, 43
    assert "input 3×3, kernel 2×2 → output 2×2" in shown
    assert equation(fig) == (19.0, 19.0)


def test_conv2d_with_padding_and_stride_highlights_the_right_window():
    fig = figures.draw_conv2d(X, K, padding=1, stride=2, highlight=(1, 1))
    check_slide(fig)
    Y = F.conv2d(X[None, None], K[None, None], padding=1, stride=2)[0, 0]
    assert Y.shape == (2, 2)
    assert "input 3×3, kernel 2×2, padding 1, stride 2 → output 2×2" in texts(fig)
    total, value = equation(fig)
    assert total == value == Y[1, 1].item()
    assert texts(fig).count("0") >= 16  # the zero padding around 3x3 is drawn (16 cells)


def test_conv2d_with_floats_and_negative_numbers():
    torch.manual_seed(0)
    A, B = torch.randn(4, 4), torch.randn(2, 2)
    fig = figures.draw_conv2d(A, B, highlight=(2, 1))
    check_slide(fig)
    total, value = equation(fig)
    Y = F.conv2d(A[None, None], B[None, None])[0, 0]
    assert value == pytest.approx(Y[2, 1].item(), abs=0.006)
    assert total == pytest.approx(value, abs=0.05)  # the shown factors are rounded


def test_pooling_shows_max_pool2d_and_avg_pool2d():
    fig = figures.draw_pooling(X, stride=1)
    check_slide(fig)
    assert {"4", "5", "7", "8"} <= set(texts(fig))
    assert "max(0, 1, 3, 4) = 4" in texts(fig)
    fig = figures.draw_pooling(X, stride=1, mode="avg", highlight=(1, 1))
    check_slide(fig)
    Y = F.avg_pool2d(X[None, None], 2, 1)[0, 0]
    assert torch.equal(fig.d2l_output, Y) and "mean(4, 5, 7, 8) = 6" in texts(fig)
    fig = figures.draw_pooling(X)  # stride defaults to the pool size, as in PyTorch
    assert fig.d2l_output.shape == (1, 1)
    fig = figures.draw_pooling(torch.arange(16.0).reshape(4, 4), 3, stride=2, padding=1)
    check_slide(fig)
    assert fig.d2l_output.tolist() == [[5.0, 7.0], [13.0, 15.0]]


def test_multichannel_sums_the_channels():
    Xc, Kc = torch.stack((X, X + 1)), torch.stack((K, K + 1))
    fig = figures.draw_multichannel(Xc, Kc)
    check_slide(fig)
    assert fig.d2l_output.tolist() == [[56.0, 72.0], [104.0, 120.0]]  # the book's output
    assert {"56", "72", "104", "120", "19", "37"} <= set(texts(fig))
    assert equation(fig) == (56.0, 56.0)
    fig = figures.draw_multichannel(torch.stack((X, X + 1, X + 2)),
                                    torch.stack((K, K + 1, K + 2)), highlight=(1, 1))
    check_slide(fig)
    total, value = equation(fig)
    assert total == value == fig.d2l_output[1, 1].item() == 239


def test_mlp_from_a_net_and_from_sizes():
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    fig = figures.draw_mlp(net)
    check_slide(fig)
    assert fig.d2l_sizes == [784, 256, 10]
    assert {"784 inputs", "256 hidden, ReLU", "10 outputs"} <= set(texts(fig))
    assert len(fig.findobj(Circle)) == 3 * 6 and texts(fig).count("⋮") == 3
    fig = figures.draw_mlp([4, 5, 3])
    check_slide(fig)
    assert len(fig.findobj(Circle)) == 12 and "⋮" not in texts(fig)


def test_network_shapes_are_the_real_ones():
    net = models.lenet()  # the lecture's LeNet, as chapter 23 builds it
    fig = figures.draw_network(net, (1, 1, 28, 28), title="LeNet")
    check_slide(fig)
    assert fig.d2l_shapes == [(1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 5, 5),
                              (1, 400), (1, 120), (1, 84), (1, 10)]
    assert fig.d2l_labels[:2] == ["Conv2d 5×5, 1→6, pad 2 + sigmoid", "AvgPool2d 2×2, stride 2"]
    assert fig.d2l_labels[-3] == "Linear 400→120 + sigmoid"
    assert "1×6×28×28" in texts(fig) and net.training  # the training flag is restored


def test_network_with_lazy_layers_and_nested_blocks():
    net = nn.Sequential(nn.LazyConv2d(6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Sequential(Residual(6, 6), Residual(6, 6)), nn.BatchNorm2d(6),
                        nn.Flatten(), nn.LazyLinear(10))
    fig = figures.draw_network(net, (1, 1, 28, 28))
    check_slide(fig)
    assert fig.d2l_shapes[-1] == (1, 10) and fig.d2l_shapes[2] == (1, 6, 14, 14)
    assert fig.d2l_labels[0] == "Conv2d 5×5, 1→6, pad 2 + relu"
    assert fig.d2l_labels[2] == "Sequential: 2 × Residual" and "Linear 1176→10" in texts(fig)


def test_network_with_many_children_fits_a_slide():
    # AlexNet's 21 children (at 96 x 96 for speed: LazyLinear takes whatever comes)
    net = nn.Sequential(
        nn.Conv2d(1, 96, 11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1),
        nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Flatten(), nn.LazyLinear(64), nn.ReLU(), nn.Dropout(0.5), nn.LazyLinear(64),
        nn.ReLU(), nn.Dropout(0.5), nn.LazyLinear(10))
    fig = figures.draw_network(net, (1, 1, 96, 96), title="AlexNet")
    check_slide(fig)
    assert len(fig.d2l_shapes) == 14 and fig.d2l_shapes[0] == (1, 96, 22, 22)
    flat = nn.Sequential(*(nn.Conv2d(2, 2, 1) for _ in range(25)))  # 25 boxes, none merged
    check_slide(figures.draw_network(flat, (1, 2, 4, 4)))


def inception_paths() -> dict[str, list[nn.Module]]:
    return {"path 1": [nn.Conv2d(192, 64, 1), nn.ReLU()],
            "path 2": [nn.Conv2d(192, 96, 1), nn.ReLU(), nn.Conv2d(96, 128, 3, padding=1),
                       nn.ReLU()],
            "path 3": [nn.Conv2d(192, 16, 1), nn.ReLU(), nn.Conv2d(16, 32, 5, padding=2),
                       nn.ReLU()],
            "path 4": [nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(192, 32, 1), nn.ReLU()]}


def test_branches_concat_and_add_shapes():
    fig = figures.draw_branches(inception_paths(), "concat", (1, 192, 12, 12), title="Inception")
    check_slide(fig)
    assert [s[1] for s in fig.d2l_shapes.values()] == [64, 128, 32, 32]
    assert fig.d2l_output_shape == (1, 256, 12, 12)
    assert "concat along channels → 1×256×12×12" in texts(fig)
    blk = Residual(3, 6, use_1x1conv=True, stride=2)
    paths = {"main path": [blk.conv1, blk.bn1, nn.ReLU(), blk.conv2, blk.bn2],
             "shortcut": [blk.conv3]}
    fig = figures.draw_branches(paths, "add", (1, 3, 6, 6), after=[nn.ReLU()])
    check_slide(fig)
    X6 = torch.rand(1, 3, 6, 6)
    assert fig.d2l_output_shape == tuple(blk(X6).shape) == (1, 6, 3, 3)
    assert "+ then relu → 1×6×3×3" in texts(fig)
    fig = figures.draw_branches({"main": [nn.Conv2d(3, 3, 3, padding=1)], "shortcut": []},
                                "add", (1, 3, 6, 6))
    assert fig.d2l_shapes["shortcut"] == (1, 3, 6, 6) and "identity" in texts(fig)


def test_branches_reject_incompatible_shapes():
    with pytest.raises(ValueError, match="cannot add"):  # Residual(3, 6) without the 1x1 conv
        figures.draw_branches({"main": [nn.Conv2d(3, 6, 3, padding=1)], "shortcut": []},
                              "add", (1, 3, 6, 6))
    with pytest.raises(ValueError, match="cannot concatenate"):
        figures.draw_branches({"a": [nn.Conv2d(3, 4, 1)], "b": [nn.MaxPool2d(2)]},
                              "concat", (1, 3, 6, 6))
    with pytest.raises(ValueError, match="cannot take an input"):
        figures.draw_branches({"a": [nn.Conv2d(4, 4, 1)]}, "add", (1, 3, 6, 6))


def test_parallelism_shards_and_stages():
    net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                        nn.Linear(64, 10))
    fig = figures.draw_parallelism(net, 64, 4)
    check_slide(fig)
    assert fig.d2l_shards == [16, 16, 16, 16]
    assert fig.d2l_stages == [[0, 1], [2], [3], [4]]
    shown = texts(fig)
    assert shown.count("activations") == 3 and any("all-reduce gradients" in t for t in shown)
    fig = figures.draw_parallelism(models.lenet(), 10, 4)
    check_slide(fig)
    assert fig.d2l_shards == [len(c) for c in torch.arange(10).chunk(4)] == [3, 3, 3, 1]


@pytest.mark.parametrize("k", [3, 4])
def test_ring_allreduce_ends_with_the_sum(k):
    chunks = [torch.arange(k) + k * w for w in range(k)]
    fig = figures.draw_ring_allreduce(chunks)
    check_slide(fig)
    total = torch.stack(chunks).sum(0)
    assert len(fig.d2l_result) == k and all(torch.equal(r, total) for r in fig.d2l_result)
    assert len(fig.d2l_states) == 2 * k - 1
    after_scatter = fig.d2l_states[k - 1]  # worker w holds the whole sum of chunk w + 1
    assert all(after_scatter[w, (w + 1) % k] == total[(w + 1) % k] for w in range(k))
    assert f"reduce-scatter {k - 1}" in texts(fig) and f"all-gather {k - 1}" in texts(fig)


def test_autograd_graph_reads_the_real_graph():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    b = torch.tensor(4.0, requires_grad=True)
    y = (x * w).sum() + b
    fig = figures.draw_autograd_graph(y, {x: "x", w: "w", b: "b"})
    check_slide(fig)
    assert sorted(fig.d2l_nodes) == ["AddBackward0", "MulBackward0", "SumBackward0"]
    assert sorted(fig.d2l_leaves) == ["b", "w", "x"]
    at = {t.get_text(): t.get_position()[0] for t in fig.axes[0].texts}
    assert at["x"] < at["MulBackward0"] < at["SumBackward0"] < at["AddBackward0"]
    assert any(re.fullmatch(r"backward.*", t) for t in texts(fig))


def test_figures_reject_bad_input_clearly():
    bad = [
        (lambda: figures.draw_multichannel(torch.rand(5, 3, 3), torch.rand(5, 2, 2)),
         "1 to 3 input channels"),
        (lambda: figures.draw_multichannel(torch.rand(2, 3, 3), torch.rand(3, 2, 2)),
         "one kernel per channel"),
        (lambda: figures.draw_conv2d(torch.arange(3.0), K), "2-D tensor"),
        (lambda: figures.draw_conv2d(X, torch.ones(4, 4)), "larger than"),
        (lambda: figures.draw_conv2d(X, K, highlight=(2, 0)), "outside the output"),
        (lambda: figures.draw_conv2d(torch.rand(40, 40), K), "too many cells"),
        (lambda: figures.draw_pooling(X, mode="min"), "'max' or 'avg'"),
        (lambda: figures.draw_mlp([10]), "at least two layers"),
        (lambda: figures.draw_network(nn.ReLU(), (1, 3)), "non-empty nn.Sequential"),
        (lambda: figures.draw_branches({"a": []}, "mean", (1, 3, 4, 4)), "'concat' or 'add'"),
        (lambda: figures.draw_ring_allreduce([torch.arange(3)] * 4), "shape \\(4,\\)"),
        (lambda: figures.draw_autograd_graph(torch.ones(2).sum()), "no grad_fn"),
        (lambda: figures.draw_parallelism(nn.Sequential(nn.Linear(2, 2)), 8, 2),
         "a layer per device"),
    ]
    for call, message in bad:
        with pytest.raises(ValueError, match=message):
            call()


def test_all_is_every_public_function():
    public = {n for n in dir(figures) if n.startswith("draw_")}
    assert set(figures.__all__) == public
