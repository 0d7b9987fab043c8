"""@NAME@: a scikit-learn model served over HTTP by Flask (made by `mldeploy init`).

  GET  /healthz  -> "ok"
  POST /predict  {"features": [[5.1, 3.5, 1.4, 0.2], ...]}
                 -> {"predictions": ["setosa", ...]}

In the image gunicorn serves it (gunicorn.conf.py: port $PORT, logs on stdout).
Locally: MODEL_PATH=../@MODEL@ python3 app.py   (listens on $PORT, default 8080)

The model is read with joblib.load, which reads joblib.dump and pickle.dump files;
load it with the scikit-learn version that saved it (requirements.txt pins it).
A pickle can run code when it is loaded: load only model files you made.
"""
import logging
import math
import os
import sys

import joblib
import numpy as np
from flask import Flask, jsonify, request

MODEL_PATH = os.environ.get("MODEL_PATH", "/app/@MODEL@")
MAX_ROWS = 10000

logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("app")


def load_model(path):
    model = joblib.load(path)
    if not callable(getattr(model, "predict", None)):
        raise ValueError(f"{path}: {type(model).__name__} has no predict() method")
    return model


model = load_model(MODEL_PATH)
WIDTH = getattr(model, "n_features_in_", None)
log.info("loaded %s from %s (%s features)", type(model).__name__, MODEL_PATH, WIDTH or "any number of")
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
    if not isinstance(rows, list) or not rows:
        return None, '"features" must be a non-empty list of rows'
    if len(rows) > MAX_ROWS:
        return None, f"at most {MAX_ROWS} rows per request"
    for i, row in enumerate(rows):
        if not isinstance(row, list) or not row or not all(map(is_number, row)):
            return None, f"row {i}: expected a list of numbers"
        if WIDTH is not None and len(row) != WIDTH:
            return None, f"row {i}: expected {WIDTH} numbers, got {len(row)}"
    return rows, None


@app.get("/healthz")
def healthz():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.post("/predict")
def predict():
    rows, error = parse_features(request.get_json(silent=True))
    if error:
        return jsonify(error=error), 400
    predictions = model.predict(np.array(rows, dtype=np.float64))
    return jsonify(predictions=np.asarray(predictions).tolist())


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8080")))
