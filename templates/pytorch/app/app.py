"""@NAME@: a TorchScript model served over HTTP by FastAPI, on CPU (made by `mldeploy init`).

  GET  /healthz  -> "ok"
  POST /predict  {"features": [[5.1, 3.5, 1.4, 0.2], ...]}
                 -> {"predictions": [[0.1, 0.7, 0.2], ...]}  (the model's output rows)
  GET  /docs     the API's interactive documentation (OpenAPI: /openapi.json)

`python3 app.py` serves it with uvicorn on $PORT (default 8080), logging to stdout.
Locally: MODEL_PATH=../@MODEL@ python3 app.py

The model is a TorchScript file (torch.jit.save; ../export_model.py makes a small
one); it gets a float32 tensor of the rows and returns one row (or value) per row.
TORCH_THREADS sets the CPU threads (default 1: one request, one core).
"""
import logging
import logging.config
import os
from typing import Any, List

import torch
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


torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
model = torch.jit.load(MODEL_PATH, map_location="cpu")
model.eval()
WIDTH = int(os.environ["MODEL_INPUTS"]) if os.environ.get("MODEL_INPUTS") else None
log.info("loaded TorchScript %s from %s", model.original_name, MODEL_PATH)


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
    try:
        with torch.inference_mode():
            out = model(torch.tensor(rows, dtype=torch.float32))
    except RuntimeError as e:
        raise HTTPException(422, f"the model cannot take these rows: {str(e).splitlines()[0]}")
    return {"predictions": out.tolist()}


if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8080")),
                log_config=LOG_CONFIG)
