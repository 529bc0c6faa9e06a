// Errors the engine raises. The N-API layer turns each into a JS error whose `code` names the kind, and
// lib/errors.ts maps that code onto a typed error class.
#pragma once

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace kb {

// The one list of native error kinds; test/errors.test.ts checks it against lib/errors.ts.
enum class ErrorKind {
  InvalidArgument, InvalidData, Numerical, NotPositiveDefinite, Aborted, Device, OutOfMemory, Busy, Disposed,
  Distributed, Internal
};

inline const char* error_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument: return "KBFGS_INVALID_ARGUMENT";
    case ErrorKind::InvalidData: return "KBFGS_INVALID_DATA";
    case ErrorKind::Numerical: return "KBFGS_NUMERICAL";
    case ErrorKind::NotPositiveDefinite: return "KBFGS_NOT_POSITIVE_DEFINITE";
    case ErrorKind::Aborted: return "KBFGS_ABORTED";
    case ErrorKind::Device: return "KBFGS_DEVICE";
    case ErrorKind::OutOfMemory: return "KBFGS_OUT_OF_MEMORY";
    case ErrorKind::Busy: return "KBFGS_BUSY";
    case ErrorKind::Disposed: return "KBFGS_DISPOSED";
    case ErrorKind::Distributed: return "KBFGS_DISTRIBUTED";
    case ErrorKind::Internal: return "KBFGS_INTERNAL";
  }
  return "KBFGS_ERROR";
}

// A number for a message: "NaN", "Infinity" and "-Infinity" as JavaScript writes them (not C's "-nan").
inline std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  const char* code() const { return error_code(kind_); }

 private:
  ErrorKind kind_;
};

}  // namespace kb
