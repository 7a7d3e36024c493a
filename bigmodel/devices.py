"""The devices a run trains on, and the distribution strategy over them.

With more than one GPU visible, training runs under `tf.distribute.MirroredStrategy`:
a copy of the model on each GPU, every batch split between them and their gradients
combined before each update. Otherwise it runs under TensorFlow's default
strategy, on the GPU or on the CPU. `BIGMODEL_DEVICES` overrides the choice:

- `auto` (or unset): as above.
- `single`: never mirror, even with several GPUs.
- `cpu:N`: split the CPU into N logical devices and mirror over them. This takes the
  multi-device path on a machine without GPUs, for tests; it is not faster.
"""

from __future__ import annotations

import logging
import os
import re

import tensorflow as tf

from bigmodel.errors import SettingsError

logger = logging.getLogger(__name__)

DEVICES_VARIABLE = "BIGMODEL_DEVICES"
_CPU_SPLIT = re.compile(r"cpu:(\d+)")


def training_strategy() -> tf.distribute.Strategy:
    """Return the distribution strategy for a run, as `BIGMODEL_DEVICES` and the GPUs decide.

    Call it before TensorFlow has run anything in this process, because splitting the
    CPU into logical devices is only possible then.

    Raises:
        SettingsError: for a value of `BIGMODEL_DEVICES` that is not one of the above, or
            a CPU split that TensorFlow no longer accepts.
    """
    requested = os.environ.get(DEVICES_VARIABLE, "auto").strip().lower() or "auto"
    split = _CPU_SPLIT.fullmatch(requested)
    if split is not None and int(split.group(1)) >= 1:
        return _mirrored_cpus(int(split.group(1)))
    if requested not in ("auto", "single"):
        raise SettingsError("errors.devices_invalid", value=requested, variable=DEVICES_VARIABLE)

    gpus = tf.config.list_logical_devices("GPU")
    if requested == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()


def _mirrored_cpus(count: int) -> tf.distribute.Strategy:
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:
        # TensorFlow has started: only a split made before then can be used.
        logger.warning("TensorFlow has started already; keeping its CPU devices")
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) != count:
        raise SettingsError("errors.devices_unavailable", value=f"cpu:{count}", found=len(cpus))
    if count == 1:
        return tf.distribute.get_strategy()
    return tf.distribute.MirroredStrategy([cpu.name for cpu in cpus])


def describe(strategy: tf.distribute.Strategy) -> dict[str, str]:
    """Return the devices and the number of replicas that `strategy` trains on, as text."""
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        names = list(strategy.extended.worker_devices)
    else:
        gpus = tf.config.list_logical_devices("GPU")
        names = [gpus[0].name if gpus else tf.config.list_logical_devices("CPU")[0].name]
    return {"devices": ", ".join(names), "replicas": str(strategy.num_replicas_in_sync)}
