"""The chapters' networks at the book's sizes: the shapes and parameter counts the book prints."""

import pytest
import torch

from d2lutils import models


def shapes(net, size):
    """Output shape of each top-level layer for one image of size x size (prediction mode)."""
    X, found = torch.rand(1, 1, size, size), []
    with torch.no_grad():
        for layer in net.eval():
            X = layer(X)
            found.append(tuple(X.shape))
    return found


def test_lenet_and_its_parameters():
    net = models.lenet()
    assert shapes(net, 28)[5] == (1, 16, 5, 5) and models.count_params(net) == 61706


def test_alexnet_dense_layer_sees_256_x_5_x_5_at_224():
    net = models.alexnet()
    assert shapes(net, 224)[12] == (1, 256, 5, 5)
    assert net[14].in_features == 6400 and models.count_params(net) == 46764746


def test_vgg11_halves_five_times():
    assert [s[-1] for s in shapes(models.vgg(), 224)[:5]] == [112, 56, 28, 14, 7]


@pytest.mark.parametrize(("build", "size", "last_stage"), [
    (models.googlenet, 96, (1, 1024)), (models.resnet18, 96, (1, 512, 3, 3))])
def test_googlenet_and_resnet_stages(build, size, last_stage):
    found = shapes(build(), size)
    assert last_stage in found and found[-1] == (1, 10)


def test_nin_and_bn_lenet_end_in_ten_scores():
    assert shapes(models.nin(), 224)[-1] == (1, 10)
    assert shapes(models.lenet_bn(), 28)[-1] == (1, 10)


def test_width_scales_channels():
    assert models.alexnet(0.25)[0].out_channels == 24 and models.nin(0.375)[0][0].out_channels == 36
    assert models.resnet18(16, stem_stride=1)[0][0].stride == (1, 1)
