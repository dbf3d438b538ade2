"""Plotting helpers render headless and keep the book's call signatures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from d2lutils import plotting  # noqa: E402


def test_plot_one_and_several_curves():
    x = torch.arange(0, 3, 0.5)
    axes = plotting.plot(x, [x, x ** 2], "x", "f(x)", legend=["x", "x^2"])
    assert len(axes.lines) == 2
    assert axes.get_xlabel() == "x" and axes.get_legend() is not None
    axes = plotting.plot(x.tolist(), (x * 2).tolist())
    assert len(axes.lines) == 1
    plt.close("all")


def test_show_images_grid_with_titles():
    axes = plotting.show_images(torch.rand(6, 1, 8, 8), 2, 3, titles=list("abcdef"))
    assert len(axes) == 6 and axes[5].get_title() == "f"
    plt.close("all")


def test_set_figsize():
    plotting.set_figsize((4, 3))
    assert tuple(matplotlib.rcParams["figure.figsize"]) == (4, 3)


def test_animator_prints_progress_without_a_display(capsys):
    animator = plotting.Animator(legend=["loss", "acc"])
    animator.add(1, (0.5, 0.8))
    animator.add(2, (0.25, None))
    out = capsys.readouterr().out.splitlines()
    assert out == ["1: loss 0.500, acc 0.800", "2: loss 0.250"]
    assert animator.Y == [[0.5, 0.25], [0.8]]
    assert not plotting.in_notebook()
