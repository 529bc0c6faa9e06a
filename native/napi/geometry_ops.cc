// The image layers' geometry rules of native/core/layers/kinds.h, for lib/layers.ts.
#include "geometry_ops.h"

#include <string>

#include "../core/layers/kinds.h"
#include "convert.h"

namespace kb::napi {
namespace {

std::string where_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw_invalid(info.Env(), "where must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

ImageShape image_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[1].IsArray() || info[1].As<Napi::Array>().Length() != 3)
    throw_invalid(info.Env(), "the input image must be [channels, height, width]");
  const Napi::Array a = info[1].As<Napi::Array>();
  ImageShape in;
  int* dims[3] = {&in.channels, &in.height, &in.width};
  for (uint32_t i = 0; i < 3; ++i) {
    if (!a.Get(i).IsNumber()) throw_invalid(info.Env(), "the input image must be [channels, height, width]");
    *dims[i] = a.Get(i).As<Napi::Number>().Int32Value();
  }
  return in;
}

Napi::Value size_pair(Napi::Env env, int height, int width) {
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, height);
  out.Set(1u, width);
  return out;
}

}  // namespace

Napi::Value ConvGeometry(const Napi::CallbackInfo& info) {
  PatchShape s;
  s.in = image_arg(info);
  s.kernel_h = int_arg(info, 2, "kernelH");
  s.kernel_w = int_arg(info, 3, "kernelW");
  s.stride = int_arg(info, 4, "stride");
  s.padding = int_arg(info, 5, "padding");
  check_conv_geometry(where_arg(info), s);
  return size_pair(info.Env(), s.out_h(), s.out_w());
}

Napi::Value PoolGeometry(const Napi::CallbackInfo& info) {
  const ImageShape in = image_arg(info);
  PoolShape p;
  p.channels = in.channels;
  p.height = in.height;
  p.width = in.width;
  p.size_h = int_arg(info, 2, "sizeH");
  p.size_w = int_arg(info, 3, "sizeW");
  p.stride_h = int_arg(info, 4, "strideH");
  p.stride_w = int_arg(info, 5, "strideW");
  check_pool_geometry(where_arg(info), p);
  return size_pair(info.Env(), p.out_h(), p.out_w());
}

}  // namespace kb::napi
