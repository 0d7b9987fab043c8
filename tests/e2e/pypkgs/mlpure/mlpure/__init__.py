"""mldeploy test package (pure Python)."""


def hello():
    return "hello from mlpure"
