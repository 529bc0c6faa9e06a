// What the backendOps wrappers share (backend_ops.cc, token_backend_ops.cc): the arguments of one call as
// backend pointers (Float32Arrays copied to a GPU backend and back), and the loop that runs an op on them.
#pragma once

#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "../core/backend.h"
#include "../core/names.h"
#include "boundary.h"
#include "convert.h"
#include "js_memory.h"

namespace kb::napi {

inline size_t span(int rows, int cols, int ld) { return rows <= 0 || cols <= 0 ? 0 : (size_t)(rows - 1) * ld + cols; }

// The arguments of one call, as pointers the backend can use.
class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info)
      : info_(info), be_(*static_cast<Backend*>(info.Data())), on_host_(std::string(be_.name()) == kCpuDevice) {}
  Args(const Args&) = delete;
  Args& operator=(const Args&) = delete;
  ~Args() {
    for (const Staged& s : staged_) be_.release(s.device);
    for (float* p : scratch_) be_.release(p);
  }

  Backend& be() { return be_; }
  // The Float32Array at i, which must hold at least need values.
  float* arr(size_t i, size_t need) {
    Napi::Float32Array a = float32_arg(info_[i], "argument");
    if (a.ElementLength() < need)
      throw_invalid(info_.Env(), "argument " + std::to_string(i) + " has " + std::to_string(a.ElementLength()) +
                                     " values, needs " + std::to_string(need));
    if (on_host_) {
      written_.push_back(a);
      return a.Data();
    }
    float* device = be_.alloc(a.ElementLength());
    staged_.push_back({a.Data(), device, a.ElementLength()});
    be_.to_device(device, a.Data(), a.ElementLength());
    return device;
  }
  float* optional_arr(size_t i, size_t need) {
    return info_[i].IsNull() || info_[i].IsUndefined() ? nullptr : arr(i, need);
  }
  // count floats of working memory on the backend for the op, released after the call.
  float* scratch(size_t count) { return scratch_.emplace_back(be_.alloc(count)); }
  int num(size_t i) { return int_arg(info_, i, "size"); }
  float fnum(size_t i) { return (float)info_[i].As<Napi::Number>().DoubleValue(); }
  bool flag(size_t i) { return info_[i].ToBoolean(); }
  // Copies every array back (the op may have written any of them); call once the op has run.
  void finish() {
    for (const Staged& s : staged_) be_.to_host(s.host, s.device, s.count);
    for (const Napi::Float32Array& a : written_) publish(a);
  }

 private:
  struct Staged {
    float* host;
    float* device;
    size_t count;
  };
  const Napi::CallbackInfo& info_;
  Backend& be_;
  bool on_host_;
  std::vector<Staged> staged_;
  std::vector<Napi::Float32Array> written_;  // the arrays the host backend worked on in place
  std::vector<float*> scratch_;
};

// Runs op(args) and copies the arrays back.
template <typename Op>
Napi::Value run(const Napi::CallbackInfo& info, Op op) {
  Args args(info);
  Napi::Value result = op(args);
  args.finish();
  return result;
}

inline Napi::Value none(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// Adds the token layers' ops (token_backend_ops.cc) through add(name, fn).
void add_token_ops(const std::function<void(const char*, EntryPoint)>& add);

}  // namespace kb::napi
