"""d2lutils: the small shared package of the course (data, training, plotting, devices, scales).

It keeps the book's helper names (`load_data_fashion_mnist`, `train_ch3`, `train_ch6`, `Animator`,
`try_gpu`, ...) so a student can move between the book and this course; the code is our own.
"""

from .data import (
    DataError,
    data_root,
    ensure,
    fashion_mnist_tensors,
    get_fashion_mnist_labels,
    kaggle_house_paths,
    load_array,
    load_data_fashion_mnist,
    synthetic_data,
)
from .devices import cpu_count, device_name, num_gpus, try_all_gpus, try_gpu
from .models import corr2d
from .plotting import Animator, plot, set_axes, set_figsize, show_images, use_png_display
from .scales import SCALES, ScaleError, get_scale, hparams, seed_everything
from .training import (
    Accumulator,
    Timer,
    TrainResult,
    accuracy,
    evaluate_accuracy,
    evaluate_loss,
    init_xavier,
    linreg,
    predict_ch3,
    sgd,
    squared_loss,
    train_ch3,
    train_ch6,
    train_epoch_ch3,
)

__version__ = "0.1.0"

__all__ = [
    "SCALES",
    "Accumulator",
    "Animator",
    "DataError",
    "ScaleError",
    "Timer",
    "TrainResult",
    "accuracy",
    "corr2d",
    "cpu_count",
    "data_root",
    "device_name",
    "ensure",
    "evaluate_accuracy",
    "evaluate_loss",
    "fashion_mnist_tensors",
    "get_fashion_mnist_labels",
    "get_scale",
    "hparams",
    "init_xavier",
    "kaggle_house_paths",
    "linreg",
    "load_array",
    "load_data_fashion_mnist",
    "num_gpus",
    "plot",
    "predict_ch3",
    "seed_everything",
    "set_axes",
    "set_figsize",
    "sgd",
    "show_images",
    "squared_loss",
    "synthetic_data",
    "train_ch3",
    "train_ch6",
    "train_epoch_ch3",
    "try_all_gpus",
    "try_gpu",
    "use_png_display",
]
