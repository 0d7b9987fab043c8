"""@NAME@: a scikit-learn model served over HTTP by FastAPI (made by `mldeploy init`).

  GET  /healthz  -> "ok"
  POST /predict  {"features": [[5.1, 3.5, 1.4, 0.2], ...]}
                 -> {"predictions": ["setosa", ...]}
  GET  /docs     the API's interactive documentation (OpenAPI: /openapi.json)

`python3 app.py` serves it with uvicorn on $PORT (default 8080), logging to stdout.
Locally: MODEL_PATH=../@MODEL@ python3 app.py

The model is read with joblib.load, which reads joblib.dump and pickle.dump files;
load it with the scikit-learn version that saved it (requirements.txt pins it).
A pickle can run code when it is loaded: load only model files you made.
"""
import logging
import logging.config
import os
from typing import Any, List

import joblib
import numpy as np
import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

MODEL_PATH = os.environ.get("MODEL_PATH", "/app/@MODEL@")
MAX_ROWS = 10000
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "line",
                            "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
}
logging.config.dictConfig(LOG_CONFIG)
log = logging.getLogger("app")


def load_model(path):
    model = joblib.load(path)
    if not callable(getattr(model, "predict", None)):
        raise ValueError(f"{path}: {type(model).__name__} has no predict() method")
    return model


model = load_model(MODEL_PATH)
WIDTH = getattr(model, "n_features_in_", None)
log.info("loaded %s from %s (%s features)", type(model).__name__, MODEL_PATH, WIDTH or "any number of")


class PredictRequest(BaseModel):
    features: List[List[float]] = Field(..., description="rows of feature values",
                                        example=[[5.1, 3.5, 1.4, 0.2]])


class PredictResponse(BaseModel):
    predictions: List[Any] = Field(..., description="one per row")


app = FastAPI(title="@NAME@", description="Predictions from " + os.path.basename(MODEL_PATH))


@app.get("/healthz", response_class=PlainTextResponse)
def healthz():
    return "ok"


@app.post("/predict", response_model=PredictResponse)
def predict(req: PredictRequest):
    rows = req.features
    if not rows:
        raise HTTPException(422, '"features" must be a non-empty list of rows')
    if len(rows) > MAX_ROWS:
        raise HTTPException(422, f"at most {MAX_ROWS} rows per request")
    for i, row in enumerate(rows):
        if not row or (WIDTH is not None and len(row) != WIDTH):
            raise HTTPException(422, f"row {i}: expected {WIDTH or 'some'} numbers, got {len(row)}")
    predictions = model.predict(np.array(rows, dtype=np.float64))
    return {"predictions": np.asarray(predictions).tolist()}


if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8080")),
                log_config=LOG_CONFIG)
