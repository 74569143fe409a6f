__version__ = "0.1.0"

import os as _os
if _os.environ.get('IN_TEST') and not _os.environ.get('OMP_NUM_THREADS'):
    # `nbdev_test` sets IN_TEST and runs min(cores, 8) notebooks at once: each gets its share of the cores, or the
    # notebooks' torch thread pools fight over them (two 2-thread pools on 2 cores ran many times slower).
    import torch as _torch
    _torch.set_num_threads(max(1, (_os.cpu_count() or 1) // min(_os.cpu_count() or 1, 8)))
