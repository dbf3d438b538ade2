"""Layers and models that later chapters reuse once a chapter has built them from scratch."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Residual", "corr2d", "resnet18_small"]


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """2-D cross-correlation of matrix X with kernel K, no padding, stride 1 (chapter 18)."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
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
