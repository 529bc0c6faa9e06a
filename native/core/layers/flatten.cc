// Flatten: an image becomes a vector of the same values in the same order (height-major, channels fastest:
// algorithm.md §12.1), so the layer moves nothing. Its input is the next layer's input buffer and the layer
// below writes there directly; backward likewise passes the gradient through untouched.
#include "kinds.h"

#include "../errors.h"

namespace kb {
namespace {

class Flatten final : public Layer {
 public:
  explicit Flatten(int size) : size_(size) {}
  const char* kind() const override { return "flatten"; }
  size_t input_size() const override { return (size_t)size_; }
  size_t output_size() const override { return (size_t)size_; }
  DataKind output_kind() const override { return DataKind::Vector; }
  LayerMemory memory(uint64_t, bool) const override { return {0, 0, 0, "nothing"}; }
  void bind(Backend&, int, LayerBuffers&, const std::function<float*(size_t)>&) const override {}
  void forward(const LayerPass&, Rows) const override {}
  void backward(const LayerPass&, Rows, float*) const override {}

 private:
  int size_;
};

}  // namespace

// { size }: values per sample
std::unique_ptr<Layer> make_flatten(int i, const LayerFields& f) {
  const int size = f.whole("size");
  if (size <= 0 || size > (1 << 30)) throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " has an invalid width");
  return std::make_unique<Flatten>(size);
}

}  // namespace kb
