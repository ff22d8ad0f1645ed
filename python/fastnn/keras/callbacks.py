"""``keras.callbacks``."""

from ..callbacks import (CSVLogger, Callback, EarlyStopping, History, LambdaCallback,
                         LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau)

__all__ = ["Callback", "History", "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler",
           "CSVLogger", "LambdaCallback", "ModelCheckpoint"]
