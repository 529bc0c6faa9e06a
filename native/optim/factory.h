// Builds an optimizer from the settings the TypeScript layer validated (lib/optimizers.ts).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "optimizer.h"

namespace kb {

struct OptimizerSpec {
  std::string kind;                       // "sgd" | "adam" | "rmsprop" | ...
  std::map<std::string, double> numbers;  // every numeric setting, by its TypeScript name
  bool paper = false;                     // the reference protocol of algorithm.md §2/§6
  double get(const std::string& key, double fallback) const {
    auto it = numbers.find(key);
    return it == numbers.end() ? fallback : it->second;
  }
};

// Throws kb::Error(InvalidArgument) for an unknown kind.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec);

}  // namespace kb
