"""Layers with Keras names and arguments."""

from .base import Layer
from .core import Activation, Dense, Flatten, LeakyReLU, ReLU, Reshape, Sigmoid, Softmax, Tanh

__all__ = ["Layer", "Dense", "Activation", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
           "Flatten", "Reshape"]
from .pool import (AveragePooling1D, AveragePooling2D, AvgPool1D, AvgPool2D, GlobalAveragePooling2D,
                   GlobalAvgPool2D, GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool1D, MaxPool2D,
                   MaxPooling1D, MaxPooling2D)

__all__ += ["MaxPool2D", "MaxPooling2D", "AvgPool2D", "AveragePooling2D", "MaxPool1D",
            "MaxPooling1D", "AvgPool1D", "AveragePooling1D", "GlobalAvgPool2D",
            "GlobalAveragePooling2D", "GlobalMaxPool2D", "GlobalMaxPooling2D"]
from .norm import BatchNormalization, Dropout, SpatialDropout2D

__all__ += ["BatchNormalization", "Dropout", "SpatialDropout2D"]
