"""Where and how a run computes: seeds, tf.distribute strategy, mixed precision, XLA.

The same script runs on a laptop CPU, one GPU, several GPUs or several hosts; only the
``--distribute`` flag (and TF_CONFIG across hosts) changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import keras
import tensorflow as tf

log = logging.getLogger(__name__)

#: Environment variable splitting a GPU-less host's CPU into this many logical devices, so that
#: ``--distribute mirrored`` runs real replicas on a laptop (how the tests exercise MirroredStrategy).
LOGICAL_CPUS_ENV = "MEDIMG_LOGICAL_CPUS"


class RuntimeConfigError(RuntimeError):
    """The requested strategy cannot run on this machine."""


def gpu_count() -> int:
    """Number of GPUs TensorFlow can see."""
    return len(tf.config.list_physical_devices("GPU"))


def _default(_: int) -> tf.distribute.Strategy:
    return tf.distribute.get_strategy()


def split_cpu(count: int) -> list[str]:
    """Split the host CPU into ``count`` logical devices (before TensorFlow starts its runtime).

    Args:
        count: logical CPU devices wanted (2 or more to mirror over them).

    Returns:
        The names of the logical CPU devices.

    Raises:
        RuntimeConfigError: TensorFlow was already initialised with another layout.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if not current or len(current) != count:
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError:
            raise RuntimeConfigError(
                f"{LOGICAL_CPUS_ENV}={count} must be set before TensorFlow starts; run the command in a new process."
            ) from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def _mirrored(gpus: int) -> tf.distribute.Strategy:
    count = int(os.environ.get(LOGICAL_CPUS_ENV, "0") or 0)
    if gpus == 0 and count > 1:  # no GPU: mirror over logical CPUs when asked to
        return tf.distribute.MirroredStrategy(devices=split_cpu(count))
    return tf.distribute.MirroredStrategy()


def _multiworker(_: int) -> tf.distribute.Strategy:
    if "TF_CONFIG" not in os.environ:
        raise RuntimeConfigError(
            "--distribute multiworker needs the TF_CONFIG environment variable describing the cluster "
            "(see the tf.distribute multi-worker guide)."
        )
    from training import multiworker_compat

    multiworker_compat.install()
    # RING collectives over gRPC are what CPU-only clusters support; NCCL is chosen on GPUs.
    return tf.distribute.MultiWorkerMirroredStrategy()


def _auto(gpus: int) -> tf.distribute.Strategy:
    if "TF_CONFIG" in os.environ:
        return _multiworker(gpus)
    return _mirrored(gpus) if gpus > 1 else _default(gpus)


#: --distribute value -> factory(gpu count).
STRATEGIES: dict[str, Callable[[int], tf.distribute.Strategy]] = {
    "auto": _auto,
    "mirrored": _mirrored,
    "multiworker": _multiworker,
    "none": _default,
}

_SWITCH = {"on": True, "off": False}


def cpu_supports_bfloat16() -> bool:
    """Whether this CPU has native bfloat16 instructions (AVX512-BF16 or AMX), per /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def mixed_policy(gpus: int) -> str:
    """The mixed-precision policy for this host: float16 on GPUs, bfloat16 on CPUs.

    float16 needs loss scaling and is slow on CPUs; bfloat16 keeps float32's range and
    runs natively on CPUs with AVX512-BF16/AMX (elsewhere TensorFlow emulates it, slowly).
    """
    if gpus:
        return "mixed_float16"
    if not cpu_supports_bfloat16():
        log.warning("This CPU has no native bfloat16 support; mixed_bfloat16 will be emulated and slow.")
    return "mixed_bfloat16"


@dataclass(frozen=True)
class Runtime:
    """The resolved compute settings of a run."""

    strategy: tf.distribute.Strategy
    mixed_precision: bool
    jit_compile: bool
    policy: str = "float32"

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def worker(self) -> tuple[str | None, int]:
        """(task type, index) of this process in a multi-worker cluster; (None, 0) on one host."""
        resolver = getattr(self.strategy, "cluster_resolver", None)
        if resolver is None or not resolver.task_type:
            return None, 0
        return resolver.task_type, int(resolver.task_id or 0)

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the shared outputs (the served model, the card, the plots).

        Every worker trains; only the chief (or worker 0 of a cluster without a chief) publishes,
        the others write their checkpoints into a private folder, as tf.distribute recommends.
        """
        task_type, task_id = self.worker
        if task_type in (None, "chief"):
            return True
        cluster = self.strategy.cluster_resolver.cluster_spec().as_dict()
        return task_type == "worker" and task_id == 0 and "chief" not in cluster

    def private_dir(self, run_dir: Path) -> Path:
        """``run_dir`` for the chief; a per-worker subfolder for the others."""
        task_type, task_id = self.worker
        return run_dir if self.is_chief else run_dir / f".{task_type}_{task_id}"

    def chief_dir(self, private_dir: Path) -> Path:
        """The shared run folder of a folder returned by :meth:`private_dir`."""
        return private_dir if self.is_chief else private_dir.parent


@contextlib.contextmanager
def runtime(distribute: str = "auto", mixed_precision: str = "auto", jit_compile: str = "auto",
            seed: int | None = None) -> Iterator[Runtime]:
    """Seed everything and set the dtype policy for the duration of a run, then restore it.

    Args:
        distribute: a key of :data:`STRATEGIES`.
        mixed_precision: "auto" (on with a GPU), "on" or "off"; "on" means mixed_float16 on a GPU,
            mixed_bfloat16 on a CPU (see :func:`mixed_policy`).
        jit_compile: "auto" (on with a GPU), "on" or "off".
        seed: passed to keras.utils.set_random_seed (Python, NumPy and TensorFlow).

    Yields:
        The Runtime; build and compile models inside ``runtime.strategy.scope()``.
    """
    if distribute not in STRATEGIES:
        raise RuntimeConfigError(f"Unknown strategy '{distribute}'; use one of {', '.join(STRATEGIES)}.")
    gpus = gpu_count()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    use_mp = _SWITCH.get(mixed_precision, gpus > 0)
    use_xla = _SWITCH.get(jit_compile, gpus > 0)
    previous = keras.mixed_precision.global_policy().name
    # The policy is process-global; restoring it keeps one run from leaking into the next.
    policy = mixed_policy(gpus) if use_mp else "float32"
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield Runtime(strategy=STRATEGIES[distribute](gpus), mixed_precision=use_mp, jit_compile=use_xla,
                      policy=policy)
    finally:
        keras.mixed_precision.set_global_policy(previous)
