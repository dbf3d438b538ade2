"""Scale profiles and seeding."""

import random

import numpy as np
import pytest
import torch

from d2lutils import scales


def test_default_scale_follows_cuda(monkeypatch):
    monkeypatch.delenv("D2L_SCALE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert scales.get_scale() == "full"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert scales.get_scale() == "quick"


@pytest.mark.parametrize("value", ["smoke", "quick", "full", " Quick "])
def test_env_var_selects_scale(monkeypatch, value):
    monkeypatch.setenv("D2L_SCALE", value)
    assert scales.get_scale() == value.strip().lower()


def test_unknown_scale_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("D2L_SCALE", "huge")
    with pytest.raises(scales.ScaleError) as info:
        scales.get_scale()
    message = str(info.value)
    assert "huge" in message
    assert all(name in message for name in scales.SCALES)


def test_hparams_book_values_then_overrides():
    full = dict(batch_size=256, lr=0.1, num_epochs=10)
    quick = dict(num_epochs=3)
    smoke = dict(batch_size=64)
    assert vars(scales.hparams(full, quick, smoke, scale="full")) == dict(scale="full", **full)
    q = scales.hparams(full, quick, smoke, scale="quick")
    assert (q.batch_size, q.lr, q.num_epochs) == (256, 0.1, 3)
    s = scales.hparams(full, quick, smoke, scale="smoke")  # smoke inherits quick's overrides
    assert (s.batch_size, s.lr, s.num_epochs, s.scale) == (64, 0.1, 3, "smoke")


def test_hparams_reads_env(monkeypatch):
    monkeypatch.setenv("D2L_SCALE", "smoke")
    assert scales.hparams(dict(n=1), smoke=dict(n=2)).n == 2


def test_hparams_rejects_unknown_override_and_scale():
    with pytest.raises(KeyError, match="lr_typo"):
        scales.hparams(dict(lr=0.1), quick=dict(lr_typo=0.2), scale="quick")
    with pytest.raises(scales.ScaleError):
        scales.hparams(dict(lr=0.1), scale="tiny")


def test_seed_everything_repeats_all_generators(monkeypatch):
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    scales.seed_everything(3)
    first = draw()
    scales.seed_everything(3)
    assert draw() == first
    monkeypatch.setenv("D2L_SEED", "3")
    assert scales.seed_everything() == 3
    assert draw() == first
    monkeypatch.delenv("D2L_SEED")
    assert scales.seed_everything() == 0


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "4294967296", "0x10"])
def test_bad_seed_gets_one_clear_message(monkeypatch, value):
    monkeypatch.setenv("D2L_SEED", value)
    with pytest.raises(scales.SeedError) as info:
        scales.seed_everything()
    message = str(info.value)
    assert f"D2L_SEED={value!r}" in message and "whole number" in message


def test_seed_from_env_accepts_whitespace_and_the_largest_numpy_seed(monkeypatch):
    monkeypatch.setenv("D2L_SEED", " 7 ")
    assert scales.get_seed() == 7
    monkeypatch.setenv("D2L_SEED", str(2**32 - 1))
    assert scales.seed_everything() == 2**32 - 1


def test_scale_note_names_each_departure_from_the_book():
    full = dict(resize=224, optimizer="sgd", lr=0.01, n_train=None, floor=0.87, schedule=None)
    quick = dict(resize=68, optimizer="adam", lr=1e-3, n_train=6144, floor=0.86,
                 schedule="cosine")
    hp = scales.hparams(full, quick, scale="quick")
    assert vars(hp) == dict(scale="quick", **full | quick)  # the book's values stay apart
    assert scales.scale_note(hp) == (
        "quick scale, departing from the book: resize 68 (book 224), optimizer adam (book sgd), "
        "lr 0.001 (book 0.01), n_train 6144 (book all), schedule cosine (book none)")
    book = scales.hparams(full, quick, scale="full")
    assert scales.scale_note(book) == "full scale: the book's hyperparameters"


def test_scale_note_says_bf16_where_train_ch6_uses_it():
    hp = scales.hparams(full=dict(lr=0.1), scale="full")
    assert scales.scale_note(hp, "cpu") == "full scale: the book's hyperparameters"
    cuda = scales.scale_note(hp, "cuda:0")
    assert cuda.startswith("full scale, departing from the book:") and "bf16 autocast" in cuda


def test_by_scale_gives_each_scale_its_own_value_and_none_elsewhere(monkeypatch):
    for scale, expected in (("smoke", None), ("quick", 0.79), ("full", 0.5)):
        monkeypatch.setenv("D2L_SCALE", scale)
        assert scales.by_scale(quick=0.79, full=0.5) == expected
    with pytest.raises(scales.ScaleError, match="huge"):
        scales.by_scale(huge=1.0)


def test_scale_values_inherit_from_the_next_larger_scale():
    layers = {"full": {"a": 1, "b": 1, "c": 1}, "quick": {"b": 2, "c": 2}, "smoke": {"c": 3}}
    assert scales.scale_values(layers, "full") == {"a": 1, "b": 1, "c": 1}
    assert scales.scale_values(layers, "quick") == {"a": 1, "b": 2, "c": 2}
    assert scales.scale_values(layers, "smoke") == {"a": 1, "b": 2, "c": 3}
