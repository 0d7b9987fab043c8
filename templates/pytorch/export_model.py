#!/usr/bin/env python3
"""Writes @MODEL@: a small TorchScript model to try the project with.

It takes rows of 4 numbers and returns 3 probabilities per row (a linear layer
and a softmax, with fixed weights). Your own model: save it the same way,
    torch.jit.save(torch.jit.script(model), "@MODEL@")   # or torch.jit.trace
and check that it loads with torch.jit.load("@MODEL@", map_location="cpu").
usage: python3 export_model.py [OUTPUT]
"""
import sys

import torch


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[0.0, 0.0, -1.0, -1.0],
                                                   [0.0, 0.0, 0.5, -0.5],
                                                   [0.0, 0.0, 1.0, 1.0]]))
            self.linear.bias.copy_(torch.tensor([2.5, 0.0, -3.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.linear(x), dim=1)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "@MODEL@"
    torch.jit.save(torch.jit.script(Classifier().eval()), out)
    print(f"wrote {out}")
