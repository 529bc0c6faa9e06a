"""Per-layer times of the benchmark CNN (lib/cli/problems.ts cnnClassifier) in PyTorch on the CPU, for
bench/cnn-layers.js: each layer's forward (with its activation), the activation's backward, the input
gradient and the weight gradient (aten's convolution_backward with one output mask at a time; for the dense
layers the two products), the pooling passes, the loss with its gradient and Adam's step, each the fastest of `repeats` timed
calls after one untimed. Prints one JSON object: {layer: {pass: seconds}}.
  python3 bench/cnn_layers_torch.py BATCH THREADS REPEATS [DENSE_UNITS]"""
import json, sys, time

import torch
import torch.nn.functional as F


CLOCK = time.process_time if len(sys.argv) > 5 and sys.argv[5] == 'cpu' else time.perf_counter


def fastest_seconds(repeats, fn):
    fn()
    best = float('inf')
    for _ in range(repeats):
        start = CLOCK()
        fn()
        best = min(best, CLOCK() - start)
    return best


def main():
    batch, threads, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    units = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    t = lambda *shape: torch.randn(*shape)
    out = {}

    def conv(name, x, filters, first):
        w, b = t(filters, x.shape[1], 5, 5) * 0.1, t(filters)
        h = F.conv2d(x, w, b, padding=2)
        g = t(*h.shape)
        backward = lambda mask: torch.ops.aten.convolution_backward(g, x, w, [filters], [1, 1], [2, 2], [1, 1], False,
                                                                    [0, 0], 1, mask)
        out[name] = {
            'forward': fastest_seconds(repeats, lambda: F.relu(F.conv2d(x, w, b, padding=2))),
            'activation backward': fastest_seconds(repeats, lambda: torch.ops.aten.threshold_backward(g, h, 0)),
            'backward data': None if first else fastest_seconds(repeats, lambda: backward([True, False, False])),
            'backward weights': fastest_seconds(repeats, lambda: backward([False, True, True])),
        }
        return F.relu(h)

    def pool(name, x):
        y, indices = F.max_pool2d_with_indices(x, 2)
        g = t(*y.shape)
        out[name] = {
            'forward': fastest_seconds(repeats, lambda: F.max_pool2d(x, 2)),
            'backward data': fastest_seconds(repeats, lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                g, x, [2, 2], [2, 2], [0, 0], [1, 1], False, indices)),
        }
        return y

    def dense(name, a, units, relu):
        w, b = t(units, a.shape[1]) * 0.01, t(units)
        h = F.linear(a, w, b)
        g = t(*h.shape)
        out[name] = {
            'forward': fastest_seconds(repeats, (lambda: F.relu(F.linear(a, w, b))) if relu else (lambda: F.linear(a, w, b))),
            'activation backward': fastest_seconds(repeats, lambda: torch.ops.aten.threshold_backward(g, h, 0)) if relu else None,
            'backward data': fastest_seconds(repeats, lambda: g.mm(w)),
            'backward weights': fastest_seconds(repeats, lambda: (g.t().mm(a), g.sum(0))),
        }
        return F.relu(h) if relu else h

    x = t(batch, 1, 28, 28)
    x = pool('pool1', conv('conv1', x, 32, True))
    x = pool('pool2', conv('conv2', x, 64, False))
    z = dense('dense2', dense('dense1', x.flatten(1), units, True), 10, False)
    labels = torch.randint(0, 10, (batch,))
    zg = z.detach().requires_grad_()
    out['loss'] = {'forward': fastest_seconds(repeats, lambda: torch.autograd.grad(F.cross_entropy(zg, labels), zg))}
    shapes = [(32, 1, 5, 5), (32,), (64, 32, 5, 5), (64,), (units, 3136), (units,), (10, units), (10,)]
    params = [torch.nn.Parameter(t(*shape)) for shape in shapes]
    for p in params:
        p.grad = t(*p.shape)
    adam = torch.optim.Adam(params, lr=1e-3)
    out['Adam step'] = {'update': fastest_seconds(repeats, adam.step)}
    print(json.dumps(out))


main()
