// A small, portable, seeded random number generator (SplitMix64, Steele, Lea & Flood 2014).
// Same seed, same stream on every platform and compiler: initialisation and data order are reproducible.
#pragma once

#include <cstdint>
#include <cstring>

#include "host_device.h"  // the counter-based functions also run on the GPU, so both backends draw the same

namespace kb {

KB_HOST_DEVICE inline uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The i-th output of Rng(seed) as a double in [0, 1), computed directly (counter-based, parallel-friendly).
KB_HOST_DEVICE inline double uniform_at(uint64_t seed, uint64_t i) {
  return (double)(splitmix64_mix(seed + (i + 1) * 0x9E3779B97F4A7C15ull) >> 11) * 0x1.0p-53;
}

// A 64-bit counter kept in backend memory as the bits of two floats (low word first), read and advanced where the
// memory is: a GPU step that draws from it passes no per-call value, so it can be recorded once and replayed
// (KFAC's sampled targets, algorithm.md §5). Counts below 2^23 are subnormal floats: only ever copied, never
// computed with.
KB_HOST_DEVICE inline uint64_t load_counter(const float* c) {
  uint32_t w[2];
  memcpy(w, c, sizeof w);
  return (uint64_t)w[0] | ((uint64_t)w[1] << 32);
}
KB_HOST_DEVICE inline void store_counter(float* c, uint64_t value) {
  const uint32_t w[2] = {(uint32_t)value, (uint32_t)(value >> 32)};
  memcpy(c, w, sizeof w);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next_u64() { return splitmix64_mix(state_ += 0x9E3779B97F4A7C15ull); }
  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return (double)(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n) (n > 0); the modulo bias is below 2^-40 for the sizes used here.
  uint64_t below(uint64_t n) { return next_u64() % n; }
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

}  // namespace kb
