"""Layers with Keras names and arguments."""

from .base import Layer
from .conv import Conv1D, Conv2D, Convolution1D, Convolution2D
from .embedding import Embedding
from .core import Activation, Dense, Flatten, LeakyReLU, ReLU, Reshape, Sigmoid, Softmax, Tanh
from .norm import BatchNormalization, Dropout, SpatialDropout2D
from .recurrent import GRU, LSTM, Bidirectional, Masking, SimpleRNN
from .input_layer import Input, InputLayer
from .lambda_layer import Identity, Lambda
from .merge import (Add, Average, Concatenate, Multiply, Subtract, add, average, concatenate,
                    multiply, subtract)
from .pool import (AveragePooling1D, AveragePooling2D, AvgPool1D, AvgPool2D,
                   GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAvgPool1D,
                   GlobalAvgPool2D, GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPooling1D,
                   GlobalMaxPooling2D, MaxPool1D, MaxPool2D, MaxPooling1D, MaxPooling2D)

__all__ = ["Layer", "Dense", "Activation", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
           "Flatten", "Reshape", "Conv1D", "Conv2D", "Convolution1D", "Convolution2D",
           "MaxPool2D", "MaxPooling2D", "AvgPool2D", "AveragePooling2D", "MaxPool1D",
           "MaxPooling1D", "AvgPool1D", "AveragePooling1D", "GlobalAvgPool2D",
           "GlobalAveragePooling2D", "GlobalMaxPool2D", "GlobalMaxPooling2D", "GlobalAvgPool1D",
           "GlobalAveragePooling1D", "GlobalMaxPool1D", "GlobalMaxPooling1D",
           "BatchNormalization", "Dropout", "SpatialDropout2D", "Embedding", "SimpleRNN", "LSTM", "GRU",
           "Bidirectional", "Masking", "Input", "InputLayer", "Lambda", "Identity", "Concatenate",
           "Add", "Subtract", "Multiply", "Average", "concatenate", "add", "subtract",
           "multiply", "average"]
