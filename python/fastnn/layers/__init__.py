"""Layers with Keras names and arguments."""

from .base import Layer
from .core import Activation, Dense, Flatten, LeakyReLU, ReLU, Reshape, Sigmoid, Softmax, Tanh

__all__ = ["Layer", "Dense", "Activation", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
           "Flatten", "Reshape"]
