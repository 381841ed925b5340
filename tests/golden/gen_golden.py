"""Generates the PyTorch golden files for the seed MLP into this directory.

Run with the system Python that has torch:  /usr/bin/python3 gen_golden.py
Deterministic: fixed seed, one thread, eval mode (Dropout is the identity).
"""
import json
import os
import struct

import numpy as np
import torch
from torch import nn

OUT = os.path.dirname(os.path.abspath(__file__))
BATCHES = (1, 3, 17, 64)


def save_safetensors(path, tensors):
    """Minimal safetensors writer (no dependency on the pip package): keys
    sorted, F32 data contiguous in key order, header padded with spaces to a
    multiple of 8 bytes as the reference implementation does."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().numpy(), dtype="<f4")
        blobs.append(a.tobytes())
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(b"".join(blobs))


def save_npy(name, t):
    np.save(os.path.join(OUT, name), t.detach().numpy().astype("<f4"))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(128, 10), nn.Softmax(dim=1)).eval()

    save_safetensors(os.path.join(OUT, "mlp.safetensors"), model.state_dict())
    with open(os.path.join(OUT, "mlp.txt"), "w") as f:
        print(model, file=f)

    with torch.no_grad():
        for b in BATCHES:
            x = torch.randn(b, 784) * 2
            save_npy(f"mlp_x_{b}.npy", x)
            save_npy(f"mlp_y_{b}.npy", model(x))


if __name__ == "__main__":
    main()
