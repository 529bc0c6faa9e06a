// The token layers' loops on the CPU (algorithm.md §18, threads as §18.8 says).
#include "token_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../rules/rng.h"
#include "parallel_rows.h"

namespace kb::cpu {

// Token rows go to the threads in ranges; each row's two-hot input and output are its own (§18.1).
void embedding_forward(const EmbeddingShape& s, const float* ids, int ld_ids, int m, const float* w, float* abar,
                       float* h, float* out, int ldo, int threads) {
  const int n = s.cols(), width = s.width, tokens = s.tokens;
  parallel_rows(m * tokens, n + 2 * width, threads, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      const int t = r % tokens, v = (int)ids[(size_t)(r / tokens) * ld_ids + t];
      float* a = abar + (size_t)r * n;  // the two-hot input row with its homogeneous 1, for the curvature methods
      std::fill(a, a + n, 0.0f);
      a[v] = 1.0f;
      if (s.positional) a[s.vocabulary + t] = 1.0f;
      a[n - 1] = 1.0f;
      float* hr = h + (size_t)r * width;
      for (int c = 0; c < width; ++c) {
        const float* wc = w + (size_t)c * n;
        hr[c] = wc[v] + (s.positional ? wc[s.vocabulary + t] : 0.0f) + wc[n - 1];
      }
      std::copy(hr, hr + width, out + (size_t)r * ldo);
    }
  });
}

// W's rows (one per output column c) go to the threads, each adding the tokens' contributions in row order.
void embedding_weight_gradient(const EmbeddingShape& s, const float* ids, int ld_ids, int m, const float* g, int ldg,
                               float scale, float* weight_grad, int threads) {
  const int n = s.cols(), rows = m * s.tokens;
  parallel_rows(s.width, (size_t)n + 3 * rows, threads, [&](int begin, int end) {
    std::fill(weight_grad + (size_t)begin * n, weight_grad + (size_t)end * n, 0.0f);
    for (int r = 0; r < rows; ++r) {
      const int t = r % s.tokens, v = (int)ids[(size_t)(r / s.tokens) * ld_ids + t];
      const float* gr = g + (size_t)r * ldg;
      for (int c = begin; c < end; ++c) {
        float* dc = weight_grad + (size_t)c * n;
        dc[v] += scale * gr[c];
        if (s.positional) dc[s.vocabulary + t] += scale * gr[c];
        dc[n - 1] += scale * gr[c];
      }
    }
  });
}

constexpr double kLayerNormEpsilon = 1e-5;

// Rows are independent: they go to the threads in ranges.
void layer_norm_forward(const float* x, int ldx, int rows, int width, const float* w, float* xhat, float* inv_std,
                        float* y, int ldy, int threads) {
  parallel_rows(rows, width, threads, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      const float* xr = x + (size_t)r * ldx;
      double mean = 0, var = 0;
      for (int c = 0; c < width; ++c) mean += xr[c];
      mean /= width;
      for (int c = 0; c < width; ++c) var += (xr[c] - mean) * (xr[c] - mean);
      inv_std[r] = (float)(1.0 / std::sqrt(var / width + kLayerNormEpsilon));
      float* yr = y + (size_t)r * ldy;
      for (int c = 0; c < width; ++c) {
        xhat[(size_t)r * width + c] = (float)((xr[c] - mean) * inv_std[r]);
        yr[c] = w[2 * c] * xhat[(size_t)r * width + c] + w[2 * c + 1];
      }
    }
  });
}

// The weight gradient sums over the rows and stays on one thread, in row order; dx splits the rows.
void layer_norm_backward(const float* g, int ldg, const float* xhat, const float* inv_std, int rows, int width,
                         const float* w, int batch, float* weight_grad, float* dx, int lddx, int threads) {
  if (weight_grad) {  // the mean-loss gradient: sums over the rows / batch
    std::fill(weight_grad, weight_grad + 2 * width, 0.0f);
    for (size_t r = 0; r < (size_t)rows; ++r) {
      const float* gr = g + r * ldg;
      const float* xr = xhat + r * width;
      for (int c = 0; c < width; ++c) {
        weight_grad[2 * c] += gr[c] * xr[c] / batch;
        weight_grad[2 * c + 1] += gr[c] / batch;
      }
    }
  }
  if (!dx) return;
  parallel_rows(rows, width, threads, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      const float* gr = g + (size_t)r * ldg;
      const float* xr = xhat + (size_t)r * width;
      // dx = inv_std (dx̂ − mean(dx̂) − x̂ mean(dx̂ ⊙ x̂)), dx̂ = gain ⊙ g  (§18.2)
      double mean_d = 0, mean_dx = 0;
      for (int c = 0; c < width; ++c) {
        const double d = w[2 * c] * gr[c];
        mean_d += d;
        mean_dx += d * xr[c];
      }
      mean_d /= width, mean_dx /= width;
      float* dxr = dx + (size_t)r * lddx;
      for (int c = 0; c < width; ++c) dxr[c] = (float)(inv_std[r] * (w[2 * c] * gr[c] - mean_d - xr[c] * mean_dx));
    }
  });
}

namespace {

// One (sample, head) pair of the attention: its rows, its head's columns and its T x T weights.
struct AttentionPair {
  const AttentionShape& s;
  const float* qkv;
  int ld, i, h;
  static bool visible(int t, int s) { return s <= t; }  // the causal mask
  // Part 0, 1, 2 (q, k, v) of position t: the head's columns.
  const float* at(int part, int t) const { return qkv + ((size_t)i * s.tokens + t) * ld + part * s.width() + h * s.head_width; }
  size_t weights_offset() const { return ((size_t)i * s.heads + h) * s.tokens * s.tokens; }
};

// Each (sample, head) pair writes only its own P and its head's columns of the sample's rows, so the pairs go
// to the threads whole (§18.8).
template <class Fn>
void for_each_pair(const AttentionShape& s, int m, int threads, Fn&& fn) {
  const size_t work_per_pair = (size_t)s.tokens * s.tokens * s.head_width / 2;  // multiply-adds under the mask
  parallel_rows(m * s.heads, work_per_pair, threads, [&](int begin, int end) {
    for (int pair = begin; pair < end; ++pair) fn(pair / s.heads, pair % s.heads);
  });
}

}  // namespace

void attention_forward(const AttentionShape& s, const float* qkv, int ld, int m, float* Pall, float* out, int ldo,
                       int threads) {
  const float scale = 1.0f / std::sqrt((float)s.head_width);
  const int T = s.tokens, dh = s.head_width;
  for_each_pair(s, m, threads, [&](int i, int h) {
    const AttentionPair pair{s, qkv, ld, i, h};
    float* P = Pall + pair.weights_offset();
    for (int t = 0; t < T; ++t) {
      const float* q = pair.at(0, t);
      float top = -INFINITY;
      for (int u = 0; u < T; ++u) {
        if (!pair.visible(t, u)) { P[t * T + u] = 0; continue; }
        const float* k = pair.at(1, u);
        float dot = 0;
        for (int d = 0; d < dh; ++d) dot += q[d] * k[d];
        P[t * T + u] = dot * scale;
        top = std::max(top, P[t * T + u]);
      }
      double sum = 0;
      for (int u = 0; u < T; ++u)
        if (pair.visible(t, u)) sum += P[t * T + u] = std::exp(P[t * T + u] - top);
      for (int u = 0; u < T; ++u) P[t * T + u] = (float)(P[t * T + u] / sum);
      float* o = out + ((size_t)i * T + t) * ldo + h * dh;
      std::fill(o, o + dh, 0.0f);
      for (int u = 0; u < T; ++u) {
        if (!pair.visible(t, u)) continue;
        const float* v = pair.at(2, u);
        for (int d = 0; d < dh; ++d) o[d] += P[t * T + u] * v[d];
      }
    }
  });
}

void attention_backward(const AttentionShape& s, const float* qkv, int ld, const float* Pall, const float* dout,
                        int lddout, int m, float* dqkv, int lddqkv, int threads) {
  const float scale = 1.0f / std::sqrt((float)s.head_width);
  const int T = s.tokens, dh = s.head_width;
  for_each_pair(s, m, threads, [&](int i, int h) {
    const AttentionPair pair{s, qkv, ld, i, h};
    auto grad = [&](int part, int t) { return dqkv + ((size_t)i * T + t) * lddqkv + part * s.width() + h * dh; };
    for (int t = 0; t < T; ++t)
      for (int part = 0; part < 3; ++part) std::fill(grad(part, t), grad(part, t) + dh, 0.0f);
    thread_local std::vector<double> dP;
    dP.resize(T);
    const float* P = Pall + pair.weights_offset();
    for (int t = 0; t < T; ++t) {
      const float* dot_out = dout + ((size_t)i * T + t) * lddout + h * dh;
      // dP_ts = dout_t · v_s; dv_s += P_ts dout_t; dS_ts = P_ts (dP_ts − Σ_s' P_ts' dP_ts')  (§18.4)
      double mean = 0;
      for (int u = 0; u < T; ++u) {
        if (!pair.visible(t, u)) continue;
        const float* v = pair.at(2, u);
        float* dv = grad(2, u);
        double dot = 0;
        for (int d = 0; d < dh; ++d) dot += dot_out[d] * v[d], dv[d] += P[t * T + u] * dot_out[d];
        dP[u] = dot;
        mean += P[t * T + u] * dot;
      }
      const float* q = pair.at(0, t);
      float* dq = grad(0, t);
      for (int u = 0; u < T; ++u) {
        if (!pair.visible(t, u)) continue;
        const float dS = (float)(P[t * T + u] * (dP[u] - mean)) * scale;
        const float* k = pair.at(1, u);
        float* dk = grad(1, u);
        for (int d = 0; d < dh; ++d) dq[d] += dS * k[d], dk[d] += dS * q[d];
      }
    }
  });
}

void dropout_mask(double rate, uint64_t seed, uint64_t passes, uint64_t first, size_t count, float* mask) {
  const uint64_t pass_seed = splitmix64_mix(seed + passes * 0x9E3779B97F4A7C15ull);
  for (size_t k = 0; k < count; ++k) mask[k] = uniform_at(pass_seed, first + k) < rate ? 0.0f : (float)(1.0 / (1.0 - rate));
}

}  // namespace kb::cpu
