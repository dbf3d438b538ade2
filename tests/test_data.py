"""The data cache (sources, checksums, bad input) and the in-memory loaders."""

import gzip
import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torchvision

from d2lutils import data

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty cache directory selected through D2L_DATA_DIR, offline."""
    root = tmp_path / "cache"
    monkeypatch.setenv("D2L_DATA_DIR", str(root))
    monkeypatch.setenv("D2L_OFFLINE", "1")
    return root


def fake_file(tmp_path, monkeypatch, payload=PAYLOAD, gz=True, name="demo/file.bin"):
    """Register a DataFile whose only source is a (gzipped) copy in tmp_path."""
    source = tmp_path / ("source.bin.gz" if gz else "source.bin")
    source.write_bytes(gzip.compress(payload) if gz else payload)
    spec = data.DataFile(name=name, algo="sha256", digest=hashlib.sha256(payload).hexdigest(),
                         system_paths=(str(source),), hint="ask the instructor")
    monkeypatch.setitem(data.FILES, name, spec)
    return spec, source


def test_data_root_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path))
    assert data.data_root() == tmp_path.resolve()
    monkeypatch.delenv("D2L_DATA_DIR")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(data.__file__)))
    assert str(data.data_root()) == os.path.join(repo, "data")


def test_ensure_decompresses_and_verifies_a_system_copy(cache, tmp_path, monkeypatch):
    spec, _ = fake_file(tmp_path, monkeypatch)
    path = data.ensure(spec.name)
    assert path == cache / spec.name
    assert path.read_bytes() == PAYLOAD
    assert not list(cache.rglob("*.part"))


def test_corrupt_file_is_fetched_again(cache, tmp_path, monkeypatch):
    spec, _ = fake_file(tmp_path, monkeypatch)
    path = data.ensure(spec.name)
    path.write_bytes(PAYLOAD[:1000])  # truncated
    assert data.ensure(spec.name).read_bytes() == PAYLOAD
    altered = bytearray(PAYLOAD)
    altered[5] ^= 1
    path.write_bytes(bytes(altered))  # same size, one bit flipped
    assert data.ensure(spec.name).read_bytes() == PAYLOAD


def test_corrupt_file_without_source_is_reported_never_used(cache, tmp_path, monkeypatch):
    spec, source = fake_file(tmp_path, monkeypatch)
    path = data.ensure(spec.name)
    path.write_bytes(b"garbage")
    source.unlink()
    with pytest.raises(data.DataError) as info:
        data.ensure(spec.name)
    message = str(info.value)
    assert str(path) in message and "corrupt" in message and "ask the instructor" in message
    assert path.read_bytes() == b"garbage"  # nothing lost, and nothing returned


def test_missing_file_names_file_and_remedy(cache, tmp_path, monkeypatch):
    spec, source = fake_file(tmp_path, monkeypatch)
    source.unlink()
    with pytest.raises(data.DataError, match="missing.*ask the instructor"):
        data.ensure(spec.name)


def test_wrong_source_is_skipped_for_the_next(cache, tmp_path, monkeypatch):
    spec, good = fake_file(tmp_path, monkeypatch)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not the file")
    spec = data.DataFile(name=spec.name, algo=spec.algo, digest=spec.digest,
                         system_paths=(str(bad), str(good)))
    monkeypatch.setitem(data.FILES, spec.name, spec)
    assert data.ensure(spec.name).read_bytes() == PAYLOAD


def test_unwritable_cache_is_named(cache, tmp_path, monkeypatch):
    spec, _ = fake_file(tmp_path, monkeypatch)
    cache.mkdir()
    monkeypatch.setattr(data.os, "access", lambda path, mode: False)
    with pytest.raises(data.DataError) as info:
        data.ensure(spec.name)
    assert "not writable" in str(info.value) and "D2L_DATA_DIR" in str(info.value)


def test_uncreatable_cache_is_named(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("D2L_DATA_DIR", str(blocker / "cache"))
    spec, _ = fake_file(tmp_path, monkeypatch)
    with pytest.raises(data.DataError, match="D2L_DATA_DIR"):
        data.ensure(spec.name)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_read_only_directory_as_user(cache, tmp_path, monkeypatch):
    spec, _ = fake_file(tmp_path, monkeypatch)
    (cache / "demo").mkdir(parents=True)
    (cache / "demo").chmod(0o555)
    with pytest.raises(data.DataError, match="not writable"):
        data.ensure(spec.name)


def _prepare_in_child(root, name, digest, source):
    os.environ["D2L_DATA_DIR"] = root
    data.FILES[name] = data.DataFile(name=name, algo="sha256", digest=digest,
                                     system_paths=(source,))
    return str(data.ensure(name))


def test_two_processes_prepare_the_same_empty_cache(cache, tmp_path, monkeypatch):
    payload = os.urandom(8 << 20)
    spec, source = fake_file(tmp_path, monkeypatch, payload=payload)
    ctx = multiprocessing.get_context("spawn")
    args = (str(cache), spec.name, spec.digest, str(source))
    with ctx.Pool(2) as pool:
        results = pool.starmap(_prepare_in_child, [args, args])
    assert results[0] == results[1] == str(cache / spec.name)
    assert (cache / spec.name).read_bytes() == payload
    assert not list(cache.rglob("*.part"))


def test_killed_preparation_leaves_nothing_valid_and_next_run_finishes(cache, tmp_path,
                                                                        monkeypatch):
    spec, _ = fake_file(tmp_path, monkeypatch)
    fifo = tmp_path / "slow_source"
    os.mkfifo(fifo)
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os
        from d2lutils import data
        os.environ["D2L_DATA_DIR"] = {str(cache)!r}
        data.FILES[{spec.name!r}] = data.DataFile(name={spec.name!r}, algo="sha256",
            digest={spec.digest!r}, system_paths=({str(fifo)!r},))
        data.ensure({spec.name!r})
    """)])
    deadline = time.time() + 60
    while True:  # the child opens the source as a reader; never block on a dead child
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert child.poll() is None and time.time() < deadline, "child never read the source"
            time.sleep(0.05)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as writer:
        writer.write(PAYLOAD[: len(PAYLOAD) // 2])
        writer.flush()
        while not list(cache.rglob("*.part")) and time.time() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    target = cache / spec.name
    assert not target.exists()  # the half-written copy never took the real name
    assert list(cache.rglob("*.part"))
    assert data.ensure(spec.name).read_bytes() == PAYLOAD
    assert data.clean_partial(cache, older_than_s=0) == 1


def test_cli_reports_one_clear_message(cache, monkeypatch, capsys):
    spec = data.DataFile(name="x.bin", algo="sha256", digest="0" * 64, hint="install x")
    monkeypatch.setattr(data, "FILES", {"x.bin": spec})
    assert data.main(["--offline"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "x.bin" in err and "install x" in err


def test_prepare_verifies_every_known_file():
    paths = data.prepare(allow_pip=False)  # `make data` ran before the tests
    assert len(paths) == len(data.FILES) == 6
    assert all(data.is_valid(data.FILES[name], path) for name, path in zip(data.FILES, paths))


# --------------------------------------------------------------------------- loaders

def test_fashion_mnist_tensors():
    images, labels = data.fashion_mnist_tensors(True)
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60000,) and labels.dtype == torch.int64
    assert abs(images.float().div(255).mean().item() - 0.2860) < 1e-3
    test_images, test_labels = data.fashion_mnist_tensors(False)
    assert test_images.shape == (10000, 28, 28)
    assert torch.bincount(test_labels).tolist() == [1000] * 10


def test_cache_serves_torchvision():
    ds = torchvision.datasets.FashionMNIST(root=data.data_root(), train=False, download=False)
    image, label = ds[0]
    ours, our_labels = data.fashion_mnist_tensors(False)
    assert np.array_equal(np.asarray(image), ours[0].numpy()) and label == our_labels[0]


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="needs Debian's dataset-fashion-mnist as the offline source")
def test_a_notebook_opened_first_gets_torchvision_its_files(cache):
    """An empty cache (a hosted notebook before `make data`): the root is filled, then read."""
    ds = torchvision.datasets.FashionMNIST(root=data.fashion_mnist_root(), train=False,
                                           download=False)
    assert len(ds) == 10000 and len(list(cache.rglob("*-ubyte"))) == 4


def test_loader_covers_every_example_once_per_epoch():
    train_iter, test_iter = data.load_data_fashion_mnist(256, device="cpu", n_train=1000,
                                                         n_test=300)
    assert len(train_iter) == 4 and len(test_iter) == 2 and train_iter.num_examples == 1000
    X, y = next(iter(train_iter))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    seen = torch.cat([y for _, y in train_iter])
    labels = data.fashion_mnist_tensors(True)[1][:1000]
    assert seen.shape == (1000,) and torch.equal(seen.sort().values, labels.sort().values)
    first = torch.cat([y for _, y in test_iter])
    assert torch.equal(first, data.fashion_mnist_tensors(False)[1][:300])  # test: in order


def test_loader_shuffles_and_matches_totensor():
    torch.manual_seed(0)
    train_iter, _ = data.load_data_fashion_mnist(10, device="cpu", n_train=100, n_test=10)
    a = torch.cat([y for _, y in train_iter])
    b = torch.cat([y for _, y in train_iter])
    assert not torch.equal(a, b)
    _, test_iter = data.load_data_fashion_mnist(5, device="cpu", n_test=5)
    X, _ = next(iter(test_iter))
    ds = torchvision.datasets.FashionMNIST(root=data.data_root(), train=False,
                                           transform=torchvision.transforms.ToTensor())
    assert torch.allclose(X[0], ds[0][0])


def test_loader_resizes_per_batch():
    _, test_iter = data.load_data_fashion_mnist(8, resize=64, device="cpu", n_test=8)
    X, _ = next(iter(test_iter))
    assert X.shape == (8, 1, 64, 64)
    _, test_iter = data.load_data_fashion_mnist(8, resize=(14, 20), device="cpu", n_test=8)
    assert next(iter(test_iter))[0].shape == (8, 1, 14, 20)


def test_labels_text():
    assert data.get_fashion_mnist_labels(torch.tensor([0, 9])) == ["t-shirt", "ankle boot"]


def test_synthetic_data_and_load_array():
    torch.manual_seed(0)
    w = torch.tensor([2.0, -3.4])
    X, y = data.synthetic_data(w, 4.2, 1000)
    assert X.shape == (1000, 2) and y.shape == (1000, 1)
    residual = y.squeeze(1) - (X @ w + 4.2)
    assert residual.std() < 0.02
    batches = list(data.load_array((X, y), 100))
    assert len(batches) == 10 and batches[0][0].shape == (100, 2)


def test_kaggle_paths_are_verified_csvs():
    train_csv, test_csv = data.kaggle_house_paths()
    assert train_csv.read_text().startswith("Id,MSSubClass")
    assert sum(1 for _ in test_csv.open()) == 1460


def test_k_fold_holds_each_block_out_once():
    X, y = torch.arange(46.0).reshape(23, 2), torch.arange(23.0)
    seen = []
    for i in range(5):
        X_train, y_train, X_valid, y_valid = data.get_k_fold_data(5, i, X, y)
        assert len(y_valid) == 4 and len(y_train) == 16  # 23 // 5 = 4 rows a fold, 3 unused
        assert not set(y_valid.tolist()) & set(y_train.tolist())
        assert torch.equal(X_valid[:, 1] // 2, y_valid)  # rows stay with their labels
        seen += y_valid.tolist()
    assert sorted(seen) == list(range(20))
    with pytest.raises(ValueError, match="k >= 2"):
        data.get_k_fold_data(1, 0, X, y)
