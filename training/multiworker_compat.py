"""Two fixes that let Keras 3 ``fit`` run under a multi-worker MultiWorkerMirroredStrategy.

Keras 3.15 (TensorFlow backend) fails as soon as a cluster has two workers
(keras-team/keras#20585, tensorflow/tensorflow#72388): before the first step it averages a
data batch across workers only to read its shape, and after each step it reduces scalar
metric logs along axis 0. Both raise inside TensorFlow. The replacements below read the
shape from the local replica and reduce scalars over replicas only; everything else is
delegated to Keras unchanged. They are installed once, only when a multi-worker strategy
is created, and become no-ops if Keras renames what they wrap (then Keras' own code runs).
"""

from __future__ import annotations

import logging

import tensorflow as tf

log = logging.getLogger(__name__)
_INSTALLED = False


def _local(strategy: tf.distribute.Strategy, value):
    """The first local replica's tensor of a distributed value (the value itself otherwise)."""
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


def install() -> bool:
    """Patch Keras' TensorFlow trainer for multi-worker ``fit``; idempotent.

    Returns:
        True when the patches are (or already were) in place, False when this Keras version
        does not have the functions they replace.
    """
    global _INSTALLED
    if _INSTALLED:
        return True
    try:
        from keras.src.backend.tensorflow import trainer as tf_trainer

        original_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
        original_reduce = tf_trainer.reduce_per_replica
        multi_worker = tf_trainer._collective_all_reduce_multi_worker
    except (ImportError, AttributeError):
        log.warning("This Keras version has no multi-worker patch points; using Keras' own code.")
        return False

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None or iterator is None or not multi_worker(self.distribute_strategy):
            return original_build(self, iterator=iterator, data_batch=data_batch)
        # Only shapes and dtypes are needed to build the model: the local replica's batch has them.
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(lambda v: _local(self.distribute_strategy, v), next(batches))
            break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not multi_worker(strategy):
            return original_reduce(values, strategy, reduction)

        def mean(value):
            # Scalar logs (loss, metrics) have no axis 0: average them over replicas only.
            scalar = _local(strategy, value).shape.rank == 0
            return strategy.reduce("MEAN", value, axis=None if scalar else 0)

        return tf.nest.map_structure(mean, values)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    _INSTALLED = True
    return True
