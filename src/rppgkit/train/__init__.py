"""Training: configs, the shared engine, clip data and distributed set-up."""

from rppgkit.train.config import Config, load_config
from rppgkit.train.engine import TrainResult, train

__all__ = ["Config", "TrainResult", "load_config", "train"]
