#!/usr/bin/env python3
"""Recreate model/model.pkl, the example's iris classifier.

The model is a nearest-centroid classifier in plain Python, so serving it
needs no NumPy or scikit-learn: per class, the mean of each feature, plus the
per-feature standard deviation used to scale distances. It is a dict (see
MODEL below), pickled with protocol 4; the same data always gives the same
bytes, so `python3 train.py && git diff --exit-code model/model.pkl` checks
that the committed file is what this script makes.

The data is Fisher's iris data set (R. A. Fisher, 1936; the UCI "iris.data"
with samples 35 and 38 corrected as in Fisher's paper, as R and scikit-learn
ship it): 50 flowers of each species, measured in cm as sepal length, sepal
width, petal length, petal width.

usage: python3 train.py [OUTPUT]   (default: model/model.pkl next to this script)
"""
import math
import os
import pickle
import sys

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


def train():
    data = {species: samples(species) for species in IRIS}
    centroids = [[round(sum(col) / len(col), 6) for col in zip(*rows)]
                 for rows in data.values()]
    # Pooled within-class standard deviation of each feature.
    scale = []
    for f in range(len(FEATURES)):
        ss = 0.0
        for c, rows in enumerate(data.values()):
            ss += sum((r[f] - centroids[c][f]) ** 2 for r in rows)
        n = sum(len(rows) for rows in data.values())
        scale.append(round(math.sqrt(ss / (n - len(data))), 6))
    return {
        "kind": "nearest-centroid",
        "version": 1,
        "features": FEATURES,
        "classes": list(data),
        "centroids": centroids,
        "scale": scale,
    }


def predict(model, row):
    """The rule app/app.py applies: the class whose centroid is nearest."""
    best, best_d = None, math.inf
    for name, centre in zip(model["classes"], model["centroids"]):
        d = sum(((x - c) / s) ** 2 for x, c, s in zip(row, centre, model["scale"]))
        if d < best_d:
            best, best_d = name, d
    return best


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "model", "model.pkl")
    model = train()
    right = sum(predict(model, row) == species
                for species in IRIS for row in samples(species))
    with open(out, "wb") as f:
        pickle.dump(model, f, protocol=4)
    print(f"wrote {out}: training accuracy {right}/150")


if __name__ == "__main__":
    main()
