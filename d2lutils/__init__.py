"""d2lutils: the small shared package of the course (data, training, plotting, figures, devices,
scales, models).

It keeps the book's helper names (`load_data_fashion_mnist`, `train_ch3`, `train_ch6`, `Animator`,
`try_gpu`, ...) so a student can move between the book and this course; the code is our own.
Notebooks reach all of it one way, `import d2lutils as d2l` and then `d2l.name`: each module's
`__all__` names what it exports here, so every exported name is written once, beside its code.
"""

from . import data, devices, figures, models, plotting, scales, torchrun, training
from .data import *
from .devices import *
from .figures import *
from .models import *
from .plotting import *
from .scales import *
from .torchrun import *
from .training import *

__version__ = "0.1.0"

__all__ = sorted([*data.__all__, *devices.__all__, *figures.__all__, *models.__all__,
                  *plotting.__all__,
                  *scales.__all__, *torchrun.__all__, *training.__all__])
