"""``keras.optimizers.schedules``: learning-rate schedules called with the step."""

from ...schedules import (CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay,
                          LearningRateSchedule, PiecewiseConstantDecay, PolynomialDecay,
                          deserialize, serialize)

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "PolynomialDecay", "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts",
           "serialize", "deserialize"]
