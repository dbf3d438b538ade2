"""Layers and models that later chapters reuse once a chapter has built them from scratch.

Chapters 23-29 build each network in the lecture itself (the chapter's point) and check that it
is the one here; solutions, later chapters and the benchmarks take it from here.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Inception", "Residual", "VGG11_ARCH", "alexnet", "corr2d", "count_params", "googlenet",
           "lenet", "lenet_bn", "nin", "resnet18", "resnet18_small", "vgg"]


def count_params(module: nn.Module) -> int:
    """Number of parameters (weights and biases) of a module."""
    return sum(p.numel() for p in module.parameters())


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """2-D cross-correlation of matrix X with kernel K, no padding, stride 1 (chapter 18)."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


class Residual(nn.Module):
    """Two 3x3 conv + batch-norm layers and a skip connection (a 1x1 conv on it if asked)."""

    def __init__(self, in_channels: int, out_channels: int, use_1x1conv: bool = False,
                 stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1, stride=stride) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        return F.relu(Y + (self.conv3(X) if self.conv3 is not None else X))


def resnet_block(in_channels: int, out_channels: int, num_residuals: int,
                 first_block: bool = False) -> nn.Sequential:
    """A ResNet stage: the first residual halves the size and changes channels (except stage 1)."""
    layers = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            layers.append(Residual(in_channels, out_channels, use_1x1conv=True, stride=2))
        else:
            layers.append(Residual(out_channels, out_channels))
    return nn.Sequential(*layers)


def resnet18_small(num_classes: int = 10, in_channels: int = 1, width: int = 64) -> nn.Sequential:
    """ResNet-18 for small images (3x3 stem, no max-pool), the book's multi-GPU model.

    `width` is the first stage's channels (64 in the book); smaller widths keep CPU runs short.
    """
    w = width
    return nn.Sequential(
        nn.Conv2d(in_channels, w, kernel_size=3, stride=1, padding=1),
        nn.BatchNorm2d(w), nn.ReLU(),
        resnet_block(w, w, 2, first_block=True),
        resnet_block(w, 2 * w, 2),
        resnet_block(2 * w, 4 * w, 2),
        resnet_block(4 * w, 8 * w, 2),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(8 * w, num_classes))


# --------------------------------------------------------------------------- chapters 23-29

def lenet() -> nn.Sequential:
    """LeNet-5 as the book has it: sigmoid activations, average pooling, 1 x 28 x 28 input."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def _scaled(width: float):
    """c(n): a layer's size when the book's has n, scaled by `width` (c(96, 128) for a pair)."""
    def c(*book: int):
        scaled = tuple(round(n * width) for n in book)
        return scaled if len(scaled) > 1 else scaled[0]
    return c


def alexnet(width: float = 1.0) -> nn.Sequential:
    """The book's AlexNet for 1-channel input; `width` scales every layer's channels and units.

    LazyLinear finds its input size on the first forward pass: 6400 = 256 x 5 x 5 at 224 px.
    """
    c = _scaled(width)
    return nn.Sequential(
        nn.Conv2d(1, c(96), kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c(96), c(256), kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c(256), c(384), kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c(384), c(384), kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c(384), c(256), kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.LazyLinear(c(4096)), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(c(4096), c(4096)), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(c(4096), 10))


# VGG-11's blocks as (convolutions, output channels); the book trains them with channels / 4.
VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """`num_convs` 3x3 convolutions with ReLU, then a 2x2 max-pooling that halves the size."""
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch=VGG11_ARCH, dense: int = 4096) -> nn.Sequential:
    """VGG for 1-channel input; LazyLinear is Linear(c x 7 x 7, dense) on 224 x 224 images."""
    blocks, in_channels = [], 1
    for num_convs, out_channels in conv_arch:
        blocks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *blocks, nn.Flatten(),
        nn.LazyLinear(dense), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(dense, dense), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(dense, 10))


def nin_block(in_channels: int, out_channels: int, kernel_size: int, strides: int,
              padding: int) -> nn.Sequential:
    """A convolution, then two 1x1 convolutions (a per-pixel MLP), each with ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin(width: float = 1.0) -> nn.Sequential:
    """The book's NiN; `width` scales the channels of the first three blocks (1.0: 96-384)."""
    c = _scaled(width)
    return nn.Sequential(
        nin_block(1, c(96), kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(c(96), c(256), kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(c(256), c(384), kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(c(384), 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten())


class Inception(nn.Module):
    """Four parallel paths (c1-c4: their output channels), concatenated on the channels."""

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int],
                 c4: int) -> None:
        super().__init__()
        self.p1 = nn.Sequential(nn.Conv2d(in_channels, c1, kernel_size=1), nn.ReLU())
        self.p2 = nn.Sequential(nn.Conv2d(in_channels, c2[0], kernel_size=1), nn.ReLU(),
                                nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1), nn.ReLU())
        self.p3 = nn.Sequential(nn.Conv2d(in_channels, c3[0], kernel_size=1), nn.ReLU(),
                                nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2), nn.ReLU())
        self.p4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
                                nn.Conv2d(in_channels, c4, kernel_size=1), nn.ReLU())

    def forward(self, x):
        return torch.cat((self.p1(x), self.p2(x), self.p3(x), self.p4(x)), dim=1)


def googlenet(width: float = 1.0) -> nn.Sequential:
    """The book's GoogLeNet; `width` scales the channels of every layer."""
    c = _scaled(width)
    b1 = nn.Sequential(nn.Conv2d(1, c(64), kernel_size=7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(c(64), c(64), kernel_size=1), nn.ReLU(),
                       nn.Conv2d(c(64), c(192), kernel_size=3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(Inception(c(192), c(64), c(96, 128), c(16, 32), c(32)),
                       Inception(c(256), c(128), c(128, 192), c(32, 96), c(64)),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(Inception(c(480), c(192), c(96, 208), c(16, 48), c(64)),
                       Inception(c(512), c(160), c(112, 224), c(24, 64), c(64)),
                       Inception(c(512), c(128), c(128, 256), c(24, 64), c(64)),
                       Inception(c(512), c(112), c(144, 288), c(32, 64), c(64)),
                       Inception(c(528), c(256), c(160, 320), c(32, 128), c(128)),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(Inception(c(832), c(256), c(160, 320), c(32, 128), c(128)),
                       Inception(c(832), c(384), c(192, 384), c(48, 128), c(128)),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(c(1024), 10))


def lenet_bn() -> nn.Sequential:
    """LeNet with PyTorch's batch normalization after every convolution and dense layer."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10))


def resnet18(width: int = 64, stem_stride: int = 2) -> nn.Sequential:
    """The book's ResNet-18; `width` is the first stage's channels (64 in the book)."""
    w = width
    b1 = nn.Sequential(nn.Conv2d(1, w, kernel_size=7, stride=stem_stride, padding=3),
                       nn.BatchNorm2d(w), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    return nn.Sequential(b1, resnet_block(w, w, 2, first_block=True), resnet_block(w, 2 * w, 2),
                         resnet_block(2 * w, 4 * w, 2), resnet_block(4 * w, 8 * w, 2),
                         nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(8 * w, 10))
