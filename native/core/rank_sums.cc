#include "rank_sums.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "errors.h"

namespace kb {

void local_syrk(Network& net, int n, int rows, float alpha, const float* a, float beta, float* out) {
  net.backend().syrk(true, n, rows, alpha, a, n, net.collective().rank() == 0 ? beta : 0.0f, out, n);
}

void local_column_mean(Network& net, const Workspace& ws, int l, const float* src, int cols, float* out) {
  Backend& be = net.backend();
  be.column_mean(src, ws.rows(l), cols, cols, out);
  if (net.collective().distributed()) be.axpby(cols, 0.0f, out, (float)ws.m / ws.batch, out);
}

std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks) {
  std::vector<int> order(costs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return costs[a] > costs[b]; });
  std::vector<double> load(ranks, 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (int l : order) {
    const int r = (int)(std::min_element(load.begin(), load.end()) - load.begin());
    owner[l] = r;
    load[r] += costs[l];
  }
  return owner;
}

void run_on_owners(Collective& comm, const std::vector<int>& owners, int layers, const std::function<void(int)>& work) {
  if (!comm.distributed()) {
    for (int l = 0; l < layers; ++l) work(l);
    return;
  }
  // Per layer, summed over the ranks: how many failed, and their error kinds; the lowest failing layer decides.
  std::vector<double> failed(2 * layers, 0.0);
  std::string message;
  for (int l = 0; l < layers; ++l) {
    if (!owners.empty() && owners[l] != comm.rank()) continue;
    try {
      work(l);
    } catch (const Error& e) {
      failed[2 * l] = 1;
      failed[2 * l + 1] = (double)e.kind();
      message = e.what();
      break;
    }
  }
  comm.sum_host(failed.data(), failed.size());
  for (int l = 0; l < layers; ++l) {
    if (failed[2 * l] == 0) continue;
    // Replicated work fails on every rank alike (the sums count ranks): the kind is the mean over them.
    const ErrorKind kind = (ErrorKind)(int)(failed[2 * l + 1] / failed[2 * l]);
    if (!message.empty()) throw Error(kind, message);
    throw Error(kind, "rank " + std::to_string(owners.empty() ? 0 : owners[l]) + ", which updates layer " +
                          std::to_string(l) + "'s curvature, failed (its error names the factor)");
  }
}

}  // namespace kb
