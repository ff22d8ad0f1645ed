"""``keras.initializers``: classes and their snake_case aliases."""

from ..initializers import (Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform,
                            Initializer, LecunNormal, LecunUniform, Ones, Orthogonal,
                            RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, Zeros,
                            get)

zeros, ones, constant = Zeros, Ones, Constant
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
orthogonal = OrthogonalInitializer = Orthogonal

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
           "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "OrthogonalInitializer",
           "get", "zeros", "ones", "constant", "random_uniform", "random_normal",
           "truncated_normal", "variance_scaling", "glorot_uniform", "glorot_normal",
           "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "orthogonal"]
