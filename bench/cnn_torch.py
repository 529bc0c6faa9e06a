"""The benchmark CNN (lib/cli/problems.ts cnnClassifier) in PyTorch, for bench/cnn-speed.js: trains epochs of
Adam (PyTorch's defaults but lr) on the IDX images and prints one JSON line per epoch with its wall-clock and
processor seconds (data loading excluded) and the mean training loss. On the CPU (default) or a GPU ('cuda', the
7th argument: the images are moved to it once, and an epoch ends when the GPU has finished its work)."""
import gzip, json, os, sys, time

import numpy as np
import torch
from torch import nn


def idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    directory, epochs, batch, threads, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    units = int(sys.argv[6]) if len(sys.argv) > 6 else 128  # the first dense layer's width
    device = torch.device(sys.argv[7] if len(sys.argv) > 7 else 'cpu')
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    name = lambda stem: next(os.path.join(directory, f) for f in os.listdir(directory) if f.startswith(stem))
    x = torch.from_numpy(idx(name('train-images')).astype(np.float32) / 255).reshape(-1, 1, 28, 28)[:rows]
    y = torch.from_numpy(idx(name('train-labels')).astype(np.int64))[:rows]
    x, y = x.to(device), y.to(device)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, units), nn.ReLU(), nn.Linear(units, 10)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        order = torch.randperm(len(x), device=device)
        start, cpu_start, total, steps = time.perf_counter(), time.process_time(), 0.0, 0
        for b in range(len(x) // batch):
            rows_b = order[b * batch:(b + 1) * batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[rows_b]), y[rows_b])
            loss.backward()
            optimizer.step()
            total += loss.detach()  # summed on the device: no wait per step
            steps += 1
        total = total.item()  # waits for the epoch's work
        print(json.dumps({'epoch': epoch, 'seconds': time.perf_counter() - start, 'cpu_seconds': time.process_time() - cpu_start,
                          'loss': total / steps}), flush=True)


main()
