"""Layers with Keras names and arguments."""

from .base import Layer
from .core import Activation, Dense, Flatten, LeakyReLU, ReLU, Reshape, Sigmoid, Softmax, Tanh
from .conv import Conv1D, Conv2D, Convolution1D, Convolution2D

__all__ = ["Layer", "Dense", "Activation", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
           "Flatten", "Reshape", "Conv1D", "Conv2D", "Convolution1D", "Convolution2D"]
