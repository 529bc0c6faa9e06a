// Builds an optimizer from the settings the TypeScript layer resolved (lib/optimizers.ts), which holds every
// default: each kind has one parser here that requires every one of its fields and accepts no other, so a
// setting that TypeScript forgot, misspelled or invented is an InvalidArgument error naming it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "../core/optimizer.h"

namespace kb {

struct OptimizerSpec {
  std::string kind;                       // "sgd" | "adam" | "adamw" | "rmsprop" | "kbfgs" | "kbfgs-l" | "kfac"
  std::map<std::string, double> numbers;  // every numeric setting, by its TypeScript name
  bool paper = false;                     // the reference protocol of algorithm.md §2/§6
};

// Throws kb::Error(InvalidArgument) for an unknown kind, a missing setting or one the kind does not have.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec);

}  // namespace kb
