"""Iris classifier served over HTTP: the example app bundled with mldeploy.

  GET  /healthz  -> "ok"
  POST /predict  {"features": [[5.1, 3.5, 1.4, 0.2], ...]}
                 -> {"predictions": ["setosa", ...]}

Run in the image with gunicorn: gunicorn --bind :8080 app:app
Locally: MODEL_PATH=../model/model.pkl python3 app.py   (listens on $PORT, default 8080)

The model (see ../train.py) is a pickled scikit-learn NearestCentroid; Flask,
gunicorn, scikit-learn and NumPy come from ../requirements.txt, whose pins
match the scikit-learn that made the pickle. A pickle can run code when
loaded: load only model files you built.
"""
import math
import os
import pickle

import numpy as np
from flask import Flask, jsonify, request

MODEL_PATH = os.environ.get("MODEL_PATH", "/app/model.pkl")
MAX_ROWS = 10000
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def load_model(path):
    with open(path, "rb") as f:
        model = pickle.load(f)
    if not callable(getattr(model, "predict", None)) or \
            getattr(model, "n_features_in_", None) != len(FEATURES):
        raise ValueError(f"{path}: not a fitted scikit-learn classifier of {len(FEATURES)} features")
    return model


model = load_model(MODEL_PATH)
app = Flask(__name__)


def is_number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def parse_features(body):
    """The rows of the request, or an error message."""
    if not isinstance(body, dict) or "features" not in body:
        return None, 'expected a JSON object with "features"'
    rows = body["features"]
    width = len(FEATURES)
    if not isinstance(rows, list) or not rows:
        return None, '"features" must be a non-empty list of rows'
    if len(rows) > MAX_ROWS:
        return None, f"at most {MAX_ROWS} rows per request"
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width or not all(map(is_number, row)):
            return None, f"row {i}: expected {width} numbers ({', '.join(FEATURES)})"
    return rows, None


@app.get("/healthz")
def healthz():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.post("/predict")
def predict():
    rows, error = parse_features(request.get_json(silent=True))
    if error:
        return jsonify(error=error), 400
    X = np.array(rows, dtype=np.float64)
    return jsonify(predictions=[str(c) for c in model.predict(X)])


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8080")))
