// The engine operations behind the model's calls, on host data: each checks what it must for NaN or
// infinity, stages the data on the backend and runs the network, so the N-API layer only converts values,
// calls one of these and converts back, and every operation can be exercised from C++.
#pragma once

#include <atomic>

#include "network.h"
#include "trainer.h"

namespace kb {

// Rows per forward pass when evaluating or predicting: bounds the workspace (activations of 1000 rows),
// whatever the number of rows asked for.
constexpr int kChunkRows = 1000;

struct Evaluation {
  double loss = 0;      // mean per-sample data loss
  double accuracy = NAN;  // share of rows predicted right, NaN where has_accuracy is false
};

// Training on host data: inputs, targets and validation checked for NaN/Inf, staged once, then fit().
void fit_host(Network& net, TrainingState& state, const DataView& train, const DataView* validation,
              const FitConfig& config, const FitCallbacks& callbacks, const std::atomic<bool>& cancel);

// The loss (and accuracy) over all rows; a non-finite loss is a Numerical error naming the rows at fault.
Evaluation evaluate_host(Network& net, const DataView& data);

// The outputs for rows x input_dim inputs into out (rows x output_dim): the logits, or with logits false the
// model's prediction in data space (sigmoid or softmax of the logits).
void predict_host(Network& net, const float* x, int rows, bool logits, float* out);

// The mean data loss over all rows, and its gradient (param_count values) into gradient, in one pass.
double loss_gradient_host(Network& net, const DataView& data, float* gradient);

}  // namespace kb
