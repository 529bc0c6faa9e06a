#include "collective.h"

namespace kb {
namespace {

class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(Backend&, float*, size_t) override {}
  void sum_host(double*, size_t) override {}
  void broadcast(Backend&, float*, size_t, int) override {}
  void broadcast_host(void*, size_t, int) override {}
};

}  // namespace

Collective& single_process() {
  static SingleProcess world;
  return world;
}

}  // namespace kb
