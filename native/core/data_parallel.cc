#include "data_parallel.h"

#include <cstring>

#include "errors.h"

namespace kb {

BatchShare share_of(int batch, int rank, int ranks) {
  const int first = (int)((int64_t)batch * rank / ranks);
  const int next = (int)((int64_t)batch * (rank + 1) / ranks);
  return {first, next - first};
}

int largest_share(int batch, int ranks) { return (batch + ranks - 1) / ranks; }

void load_share(Network& net, Workspace& ws, const DataView& data, const uint32_t* rows, int batch) {
  const Collective& comm = net.collective();
  const BatchShare share = share_of(batch, comm.rank(), comm.size());
  net.load_batch(ws, data.x, data.y, rows + share.first, share.count);
  ws.batch = batch;
  ws.first = share.first;
}

namespace {

// A 64-bit hash of the bytes (words mixed as SplitMix64 finalises them).
uint64_t hash_bytes(const void* data, size_t bytes, uint64_t h) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = mix(h ^ w) + i;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p + i, bytes - i);
  return mix(h ^ tail ^ bytes);
}

}  // namespace

void check_same_run(Network& net, const DataView& train, const FitConfig& config, const Optimizer& optimizer,
                    const StepRules& rules) {
  Collective& comm = net.collective();
  if (!comm.distributed()) return;
  Backend& be = net.backend();
  std::vector<float> weights(net.param_count());
  be.to_host(weights.data(), net.params(), weights.size());
  const uint64_t seed = 0x6B626667ull;
  std::string settings = std::string(optimizer.name()) + " batch " + std::to_string(config.batch_size) + " epochs " +
                         std::to_string(config.epochs) + " seed " + std::to_string(config.seed) +
                         (config.shuffle ? " shuffled" : " in order") + " rows " + std::to_string(train.rows) +
                         // the epochs' structure; the time budget is rank 0's alone (algorithm.md §2.2)
                         " steps per epoch " + std::to_string(config.steps_per_epoch) + " max steps " +
                         std::to_string(config.max_steps) + " loss rows " + std::to_string(config.training_loss_rows) +
                         " warm-start batches " + std::to_string(config.warm_start_batches);
  Diagnostics hyperparameters;
  optimizer.hyperparameters(hyperparameters);
  for (const auto& [name, value] : hyperparameters) settings += " " + name + " " + number_text(value);
  const LrSchedule& schedule = rules.schedule;
  settings += " clipNorm " + number_text(rules.clip_norm) + " schedule " + std::to_string(schedule.warmup_steps) + " " +
              std::to_string(schedule.total_steps) + " " + number_text(schedule.min_factor);
  uint64_t mine[3] = {
      hash_bytes(weights.data(), weights.size() * sizeof(float), seed),
      hash_bytes(settings.data(), settings.size(), seed),
      hash_bytes(train.x, (size_t)train.rows * net.input_dim() * sizeof(float),
                 train.y == train.x ? seed : hash_bytes(train.y, (size_t)train.rows * net.target_dim() * sizeof(float), seed)),
  };
  uint64_t root[3];
  std::memcpy(root, mine, sizeof root);
  comm.broadcast_host(root, sizeof root, 0);
  const char* names[3] = {"weights", "fit settings (optimizer and its lr and damping, clipping and schedule, batch size, epochs, seed, shuffle, rows, "
                          "stepsPerEpoch, maxSteps, trainingLossRows, warmStartBatches)",
                          "training data"};
  double differs[3];  // per check: how many ranks differ from rank 0
  for (int i = 0; i < 3; ++i) differs[i] = mine[i] != root[i];
  comm.sum_host(differs, 3);
  std::string what;
  for (int i = 0; i < 3; ++i)
    if (differs[i] > 0) what += (what.empty() ? "" : "; ") + std::string(names[i]) + " (" + std::to_string((int)differs[i]) + " rank(s))";
  if (what.empty()) return;
  throw Error(ErrorKind::Distributed,
              "the ranks do not train the same run: " + what + " differ from rank 0's" +
                  (mine[0] != root[0] || mine[1] != root[1] || mine[2] != root[2] ? ", this rank's among them" : "") +
                  ". Every rank must build the same model (same seed or loaded weights), load the same data and "
                  "call fit with the same options");
}

}  // namespace kb
