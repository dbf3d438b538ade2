"""benchmarks/levers.py measures the chapters' own networks: each row must still build and run."""

import pytest
import torch

from benchmarks import levers


@pytest.mark.parametrize("chapter", list(levers.LEVERS))
def test_every_row_builds_the_chapters_network(chapter):
    build, rows = levers.LEVERS[chapter]
    for _, kwargs, size in rows:
        net = build(**kwargs).eval()
        with torch.no_grad():
            assert net(torch.rand(2, 1, size, size)).shape == (2, 10), (chapter, kwargs)


def test_speed_is_measured_on_real_steps():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    assert levers.images_per_second(net, 8, batch=4, steps=2) > 0
