#!/usr/bin/python3
"""Recreate model/model.pkl, the example's iris classifier.

The model is scikit-learn's NearestCentroid (each class is represented by the
mean of its training samples; a flower gets the class of the nearest mean),
fitted on the iris data below and pickled with protocol 4. Fitting it is
deterministic, so the same data and the same scikit-learn always give the same
bytes: `./train.py && git diff --exit-code model/model.pkl` checks that the
committed file is what this script makes.

Run it with the scikit-learn and NumPy the image gets (requirements.txt pins
scikit-learn 1.2.1, numpy 1.24.2: Debian bookworm's python3-sklearn, which
`make deps` installs); a pickle made by another scikit-learn version may load
with a warning, or not at all.

The data is Fisher's iris data set (R. A. Fisher, 1936; the UCI "iris.data"
with samples 35 and 38 corrected as in Fisher's paper, as R and scikit-learn
ship it): 50 flowers of each species, measured in cm as sepal length, sepal
width, petal length, petal width. (It is bundled rather than taken from
sklearn.datasets so that the training data is in the repository.)

usage: ./train.py [OUTPUT]   (default: model/model.pkl next to this script; the
       #! line is Debian's /usr/bin/python3, which has python3-sklearn)
"""
import os
import pickle
import sys

import numpy as np
import sklearn
from sklearn.neighbors import NearestCentroid

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

# One string of 50 samples per species; each sample is four numbers.
IRIS = {
    "setosa": """
        5.1 3.5 1.4 0.2  4.9 3.0 1.4 0.2  4.7 3.2 1.3 0.2  4.6 3.1 1.5 0.2  5.0 3.6 1.4 0.2
        5.4 3.9 1.7 0.4  4.6 3.4 1.4 0.3  5.0 3.4 1.5 0.2  4.4 2.9 1.4 0.2  4.9 3.1 1.5 0.1
        5.4 3.7 1.5 0.2  4.8 3.4 1.6 0.2  4.8 3.0 1.4 0.1  4.3 3.0 1.1 0.1  5.8 4.0 1.2 0.2
        5.7 4.4 1.5 0.4  5.4 3.9 1.3 0.4  5.1 3.5 1.4 0.3  5.7 3.8 1.7 0.3  5.1 3.8 1.5 0.3
        5.4 3.4 1.7 0.2  5.1 3.7 1.5 0.4  4.6 3.6 1.0 0.2  5.1 3.3 1.7 0.5  4.8 3.4 1.9 0.2
        5.0 3.0 1.6 0.2  5.0 3.4 1.6 0.4  5.2 3.5 1.5 0.2  5.2 3.4 1.4 0.2  4.7 3.2 1.6 0.2
        4.8 3.1 1.6 0.2  5.4 3.4 1.5 0.4  5.2 4.1 1.5 0.1  5.5 4.2 1.4 0.2  4.9 3.1 1.5 0.2
        5.0 3.2 1.2 0.2  5.5 3.5 1.3 0.2  4.9 3.6 1.4 0.1  4.4 3.0 1.3 0.2  5.1 3.4 1.5 0.2
        5.0 3.5 1.3 0.3  4.5 2.3 1.3 0.3  4.4 3.2 1.3 0.2  5.0 3.5 1.6 0.6  5.1 3.8 1.9 0.4
        4.8 3.0 1.4 0.3  5.1 3.8 1.6 0.2  4.6 3.2 1.4 0.2  5.3 3.7 1.5 0.2  5.0 3.3 1.4 0.2
    """,
    "versicolor": """
        7.0 3.2 4.7 1.4  6.4 3.2 4.5 1.5  6.9 3.1 4.9 1.5  5.5 2.3 4.0 1.3  6.5 2.8 4.6 1.5
        5.7 2.8 4.5 1.3  6.3 3.3 4.7 1.6  4.9 2.4 3.3 1.0  6.6 2.9 4.6 1.3  5.2 2.7 3.9 1.4
        5.0 2.0 3.5 1.0  5.9 3.0 4.2 1.5  6.0 2.2 4.0 1.0  6.1 2.9 4.7 1.4  5.6 2.9 3.6 1.3
        6.7 3.1 4.4 1.4  5.6 3.0 4.5 1.5  5.8 2.7 4.1 1.0  6.2 2.2 4.5 1.5  5.6 2.5 3.9 1.1
        5.9 3.2 4.8 1.8  6.1 2.8 4.0 1.3  6.3 2.5 4.9 1.5  6.1 2.8 4.7 1.2  6.4 2.9 4.3 1.3
        6.6 3.0 4.4 1.4  6.8 2.8 4.8 1.4  6.7 3.0 5.0 1.7  6.0 2.9 4.5 1.5  5.7 2.6 3.5 1.0
        5.5 2.4 3.8 1.1  5.5 2.4 3.7 1.0  5.8 2.7 3.9 1.2  6.0 2.7 5.1 1.6  5.4 3.0 4.5 1.5
        6.0 3.4 4.5 1.6  6.7 3.1 4.7 1.5  6.3 2.3 4.4 1.3  5.6 3.0 4.1 1.3  5.5 2.5 4.0 1.3
        5.5 2.6 4.4 1.2  6.1 3.0 4.6 1.4  5.8 2.6 4.0 1.2  5.0 2.3 3.3 1.0  5.6 2.7 4.2 1.3
        5.7 3.0 4.2 1.2  5.7 2.9 4.2 1.3  6.2 2.9 4.3 1.3  5.1 2.5 3.0 1.1  5.7 2.8 4.1 1.3
    """,
    "virginica": """
        6.3 3.3 6.0 2.5  5.8 2.7 5.1 1.9  7.1 3.0 5.9 2.1  6.3 2.9 5.6 1.8  6.5 3.0 5.8 2.2
        7.6 3.0 6.6 2.1  4.9 2.5 4.5 1.7  7.3 2.9 6.3 1.8  6.7 2.5 5.8 1.8  7.2 3.6 6.1 2.5
        6.5 3.2 5.1 2.0  6.4 2.7 5.3 1.9  6.8 3.0 5.5 2.1  5.7 2.5 5.0 2.0  5.8 2.8 5.1 2.4
        6.4 3.2 5.3 2.3  6.5 3.0 5.5 1.8  7.7 3.8 6.7 2.2  7.7 2.6 6.9 2.3  6.0 2.2 5.0 1.5
        6.9 3.2 5.7 2.3  5.6 2.8 4.9 2.0  7.7 2.8 6.7 2.0  6.3 2.7 4.9 1.8  6.7 3.3 5.7 2.1
        7.2 3.2 6.0 1.8  6.2 2.8 4.8 1.8  6.1 3.0 4.9 1.8  6.4 2.8 5.6 2.1  7.2 3.0 5.8 1.6
        7.4 2.8 6.1 1.9  7.9 3.8 6.4 2.0  6.4 2.8 5.6 2.2  6.3 2.8 5.1 1.5  6.1 2.6 5.6 1.4
        7.7 3.0 6.1 2.3  6.3 3.4 5.6 2.4  6.4 3.1 5.5 1.8  6.0 3.0 4.8 1.8  6.9 3.1 5.4 2.1
        6.7 3.1 5.6 2.4  6.9 3.1 5.1 2.3  5.8 2.7 5.1 1.9  6.8 3.2 5.9 2.3  6.7 3.3 5.7 2.5
        6.7 3.0 5.2 2.3  6.3 2.5 5.0 1.9  6.5 3.0 5.2 2.0  6.2 3.4 5.4 2.3  5.9 3.0 5.1 1.8
    """,
}


def samples(species):
    values = [float(v) for v in IRIS[species].split()]
    rows = [values[i:i + 4] for i in range(0, len(values), 4)]
    assert len(rows) == 50, species
    return rows


def dataset():
    """(X, y): the 150 samples as a float64 array and their species names."""
    X = np.array([row for species in IRIS for row in samples(species)], dtype=np.float64)
    y = np.array([species for species in IRIS for _ in range(50)])
    return X, y


def train():
    X, y = dataset()
    return NearestCentroid().fit(X, y)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "model", "model.pkl")
    model = train()
    X, y = dataset()
    right = int((model.predict(X) == y).sum())
    with open(out, "wb") as f:
        pickle.dump(model, f, protocol=4)
    print(f"wrote {out}: scikit-learn {sklearn.__version__} NearestCentroid, "
          f"training accuracy {right}/{len(y)}")


if __name__ == "__main__":
    main()
