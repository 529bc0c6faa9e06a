#!/bin/bash
cd "$(dirname "$0")/../../.."
common="--problem fashion-mnist-cnn --train-size 12800 --batch-size 128 --time-budget 60 --seed 9999 --threads 2 --out bench/results/fashion-cnn-tune/cnn-settings.json"
node dist/cli/main.js tune $common --methods kbfgs,kbfgs-l,kfac --lr 0.1,0.3,1 --damping 0.01,0.03,0.1
node dist/cli/main.js tune $common --methods adam --lr 0.0003,0.001,0.003
node dist/cli/main.js tune $common --methods sgd
echo TUNEDONE
