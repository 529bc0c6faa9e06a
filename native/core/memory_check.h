// Large requests are checked against what the backend can still hold before anything is allocated. On Linux
// an anonymous mapping far larger than RAM is granted and only fails when touched, by the OOM killer, so an
// oversized optimizer state or workspace must be refused by arithmetic, not by the allocator. The arithmetic is
// 64-bit (uint64_t) even where size_t is 32 bits (wasm32), so a request past the address space cannot wrap
// around into a small one.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "backend.h"
#include "errors.h"

namespace kb {

struct MemoryPart {
  std::string what;  // e.g. "layer 0 (3 matrices of 65537 x 65537)"
  uint64_t floats;
};

inline std::string format_bytes(double bytes) {
  const char* units[] = {"bytes", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return text;
}

// Throws OutOfMemory naming the owner, the total, the largest part and what the backend has available.
inline void require_memory(Backend& backend, const std::string& owner, const std::vector<MemoryPart>& parts) {
  double total = 0;
  const MemoryPart* largest = nullptr;
  for (const MemoryPart& p : parts) {
    total += (double)p.floats * sizeof(float);
    if (!largest || p.floats > largest->floats) largest = &p;
  }
  const double available = (double)backend.available_bytes();
  if (total <= available) return;
  std::string message = owner + " needs " + format_bytes(total) + " (" + std::to_string((unsigned long long)total) + " bytes)";
  if (largest && parts.size() > 1)
    message += ", of which " + largest->what + " takes " + format_bytes((double)largest->floats * sizeof(float));
  message += ", but the " + std::string(backend.name()) + " backend has " + format_bytes(available) + " available";
  throw Error(ErrorKind::OutOfMemory, message);
}

}  // namespace kb
