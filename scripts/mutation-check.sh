#!/usr/bin/env bash
# Deliberate bugs in the engine, one at a time: each is written into the source, the addon is built into
# build/mutant (CPU only; the developer's build/Release is left alone), the golden and backend suites (the
# distributed suite for the dist-* ones) run against it (KBFGS_ADDON), and the source is put back. A mutation is "caught" when a suite fails.
# Usage: bash scripts/mutation-check.sh [name ...]   (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."

# name @ file @ sed expression @ what it breaks
MUTATIONS=(
  "no-ha-update@native/optim/kbfgs.cc@s/^  if (curvature) update_a_side(net, ws);/  (void)0;/@H_a is never updated (algorithm.md §3.3 item 9)"
  "no-tau@native/optim/kbfgs.cc@s/settings_.momentum, settings_.weight_decay, net.params()/settings_.momentum, 0.0f, net.params()/@τ dropped from the gradient momentum (§2 step 4)"
  "powell-mu1@native/optim/bfgs.h@s/kPowellMu1 = 0.2;/kPowellMu1 = 0.25;/@Powell damping with μ₁ = 0.25 (§3.4)"
  "no-powell@native/rules/curvature_rules.h@s/else if (sy \/ yhy <= mu1)/else if (false)/@Powell damping never applied (§3.4)"
  "no-lm@native/rules/curvature_rules.h@s/else if (sy \/ ss <= mu2) {/else if (false) {/@LM damping never applied (§3.4)"
  "lambda-not-sqrt@native/optim/kbfgs.cc@s/be_->add_diagonal(L.h_a, L.n, L.n, sqrt_lambda);/be_->add_diagonal(L.h_a, L.n, L.n, (float)settings_.damping);/@A + λI instead of A + √λI (§3.3 item 2)"
  "a-decay@native/optim/kbfgs.h@s/float a_decay = 0.9f;/float a_decay = 0.95f;/@β of A's average 0.95 (§3.6)"
  "sy-decay@native/optim/kbfgs.h@s/float sy_decay = 0.9f;/float sy_decay = 0.8f;/@s̄, ȳ average 0.8 (§3.3 item 6)"
  "curvature-every-shifted@native/optim/kbfgs.cc@s/const bool curvature = k % settings_.curvature_every == 0;/const bool curvature = (k + 1) % settings_.curvature_every == 0;/@curvatureEvery's curvature steps at k = r − 1, 2r − 1, ... instead of 0, r, ... (§12.4)"
  "curvature-every-a-always@native/optim/kbfgs.cc@s/l < net.num_layers() \&\& curvature; ++l/l < net.num_layers(); ++l/@with curvatureEvery, A's average updated at every step (§12.4)"
  "conv-chunk-rows@native/core/layers/conv_passes.cc@s/h + (size_t)first \* T \* d, d);/h + (size_t)first * d, d);/@the chunked convolution writes its outputs at the wrong rows (§12.6)"
  "conv-chunk-images@native/core/layers/conv_passes.cc@s/be.im2col(s, x + (size_t)first \* s.in.size(), count, p);/be.im2col(s, x, count, p);/@every chunk of the convolution takes the first images (§12.6)"
  "conv-data-chunk-rows@native/core/layers/conv_passes.cc@s/g + (size_t)first \* T \* d, d, w, n/g, d, w, n/@every chunk of the input gradient takes the first images' output gradients (§12.6)"
  "conv-data-chunk-images@native/core/layers/conv_passes.cc@s/count, dx + (size_t)first \* s.in.size());/count, dx);/@the input gradient of every chunk lands on the first images (§12.6)"
  "conv-reformed-last-chunk@native/core/layers/conv_passes.cc@s/alpha, g + (size_t)first \* T \* d, d, scratch, n, first ? 1.0f : 0.0f, dw, n);/alpha, g + (size_t)first * T * d, d, scratch, n, 0.0f, dw, n);/@the weight gradient from re-formed patches keeps only the last chunk's product (§12.6)"
  "patches-never-kept@native/core/optimizer.h@s/virtual bool reads_layer_inputs() const { return true; }/virtual bool reads_layer_inputs() const { return false; }/@KFAC and K-BFGS read a convolution's abar though its patches were not kept (§12.6)"
  "kbfgs-curvature-step-no-patches@native/optim/kbfgs.h@s/override { return curvature_step(k); }/override { return k < 0; }/@with curvatureEvery, K-BFGS's curvature steps read ā from passes that kept no patches (§12.4)"
  "kfac-curvature-step-no-patches@native/optim/kfac.h@s/override { return curvature_step(k); }/override { return k < 0; }/@with curvatureEvery, KFAC's factor updates read ā from passes that kept no patches (§5.1)"
  "second-pass-stale-patches@native/core/layers/conv2d.cc@s/if (p.first \&\& p.second_pass) {/if (p.second_pass) {/@the second pass multiplies the first pass's patches in every conv layer, though only the first layer's inputs are the same (§12.4)"
  "bfgs-update-one-sided@native/cpu/cpu_backend.cc@s/row\[j\] += a \* u\[j\] + b \* s\[j\];/row[j] += a * u[j];/@the BFGS update without its (Hy) sᵀ term (§3.3 item 8)"
  "mirror-half-bands@native/cpu/cpu_backend.cc@s/if (bands - 1 - pair != pair) mirror_band(bands - 1 - pair);//@the CPU's SYRK mirrors only the first half of its tile bands"
  "guard-noise-one-batch@native/core/step_length.h@s/std::sqrt(2 \* before.variance)/std::sqrt(before.variance)/@the safeguard's noise allowance for one batch, not the difference of two (§11.2)"
  "guard-noise-biased@native/core/step_length.h@s/(square_sum - m \* mean \* mean) \/ (m - 1)/(square_sum - m * mean * mean) \/ m/@the per-sample variance without Bessel's correction (§11.2)"
  "kfac-seed-stuck@native/core/backend.h@s/store_counter(c, load_counter(c) + 1);/store_counter(c, load_counter(c));/@KFAC's draw counter never advances: every draw with the same seed (§5, §9.2)"
  "lbfgs-ref-ignored@native/cpu/cpu_backend.cc@s/std::sqrt(dot(ref_n, ref, ref)), threshold)/1.0, threshold)/@K-BFGS(L) keeps pairs by yᵀs > 10⁻⁴ sᵀs, without ‖ḡ‖ (§4)"
  "lbfgs-keeps-oldest@native/cpu/cpu_backend.cc@s/std::memmove(s_rows, s_rows + d, (size_t)(memory - 1) \* d \* sizeof(float));//@K-BFGS(L)'s full memory drops the oldest y but keeps the oldest s (§4)"
  "kfac-reinvert@native/optim/kfac.cc@s/(k <= T || k \/ T != (k - r) \/ T)/(k <= T)/@KFAC never re-inverts after step 20 (§5)"
  "kfac-curvature-always@native/optim/kfac.cc@s/const bool curvature = k % r == 0;/const bool curvature = true;/@with curvatureEvery, KFAC draws targets and updates A and G at every step (§5.1)"
  "kfac-invert-every-update@native/optim/kfac.cc@s/(curvature \&\& (k <= T || k \/ T != (k - r) \/ T))/curvature/@with curvatureEvery, KFAC re-inverts at every factor update, not once per inverseEvery interval (§5.1)"
  "kfac-split-ignored@native/optim/kfac.cc@s/if (!settings_.trace_split) return 1.0;/return 1.0;/@dampingSplit 'trace' leaves π at 1 (§5.2)"
  "kfac-split-swapped@native/optim/kfac.cc@s/(float)(sqrt_lambda \* pi), L.a_inv/(float)(sqrt_lambda \/ pi), L.a_inv/;s/(float)(sqrt_lambda \/ pi), L.g_inv/(float)(sqrt_lambda * pi), L.g_inv/@the trace split's π√λ given to G and √λ/π to A (§5.2)"
  "kfac-split-sums@native/optim/kfac.cc@s/be_->trace(L.a, L.n, L.n) \/ L.n, g = be_->trace(L.g, L.d, L.d) \/ L.d;/be_->trace(L.a, L.n, L.n), g = be_->trace(L.g, L.d, L.d);/@π from the factors' traces, not their means over the diagonal (§5.2)"
  "kfac-split-no-root@native/optim/kfac.cc@s/? std::sqrt(a \/ g) : 1.0;/? a \/ g : 1.0;/@π = (tr A/n)/(tr G/d) without the square root (§5.2)"
  "kfc-a-mean@native/optim/kfac.cc@s/add \/ ws.batch, ws.abar\[l\]/add \/ rows, ws.abar[l]/@KFAC's conv A averaged over locations instead of summed (§12.2)"
  "kfc-g-sum@native/optim/kfac.cc@s/add \/ ((float)ws.batch \* ws.locations((int)l)), ws.g\[l\]/add \/ ws.batch, ws.g[l]/@KFAC's conv G summed over locations instead of averaged (§12.2)"
  "conv-sy-samples@native/core/rank_sums.cc@s/be.column_mean(src, ws.rows(l), cols, cols, out)/be.column_mean(src, ws.m, cols, cols, out)/@K-BFGS's conv means from the first m rows only (§12.4)"
  "ha-undamped@native/optim/kbfgs.cc@s/be_->axpby(n, (float)std::sqrt(settings_.damping), L.s_a, 1.0f, L.y_a);//@y_a without the √λ s_a term (§3.3 item 9, §12.4)"
  "conv-ha-mean@native/optim/kbfgs.cc@s/1.0f \/ ws.batch, ws.abar\[l\], n, patch_product_/1.0f \/ rows, ws.abar[l], n, patch_product_/@conv Hessian action with Ω_B averaged over locations (§12.4)"
  "dist-grad-local@native/core/layers/dense.cc@s/1.0f \/ p.ws.batch, p.own.g/1.0f \/ p.ws.m, p.own.g/@each rank's gradient averaged over its own rows, then summed (§13.1)"
  "dist-beta-everywhere@native/core/rank_sums.cc@s/net.collective().rank() == 0 ? beta : 0.0f/beta/@every rank keeps KFAC's beta·A before the sum over ranks (§13.1)"
  "dist-mean-unscaled@native/core/rank_sums.cc@s/(float)ws.m \/ ws.batch/1.0f/@each rank's batch mean summed instead of weighted by its share (§13.1)"
  "dist-sample-offset@native/core/network.cc@s/(uint64_t)ws.first \* tokens \* d/(uint64_t)0/@every rank draws KFAC's targets from the first rows' uniforms (§13.1)"
  "dist-dropout-offset@native/core/layers/dropout.cc@s/(uint64_t)p.ws.first \* per_sample_ \* width_, count, mask)/(uint64_t)0, count, mask)/@every rank draws dropout masks from the first rows' uniforms (§18.5)"
  "dist-ya-local@native/optim/kbfgs.cc@s/comm_->sum(\*be_, ya_block_, ya_block_size_);//@H_a's Hessian action A s_a from this rank's share and patches only (§13.1)"
  "dist-shares-not-zeroed@native/optim/kbfgs.cc@s/if (comm_->rank() != 0) be_->fill(a_block_, 0.0f, a_block_size_);//@every rank starts its share of A from the whole A (§13.1)"
  "dist-split-no-broadcast@native/optim/kbfgs.cc@s/if (split_) share_updates();/(void)0;/@split curvature updates never broadcast (§13.2)"
  "dist-no-gather@native/core/trainer.cc@s/      if (gather_each_batch) opt.gather_state();//@a batch callback sees rank 0's share of K-BFGS's A, not A (§13.1)"
  "pool-max-wrong-cell@native/cpu/image_ops.cc@s/dx\[cell + c\] = largest ? left\[c\] : 0.0f;/dx[(wx * s.width + wy) * C + c0 + c] = largest ? left[c] : 0.0f;/@max pooling's adjoint writes each cell's gradient at the window's transposed cell: the gradient scattered to the wrong input (§12.1)"
  "pool-max-cells-reordered@native/cpu/image_ops.cc@s/const int cell = (wy \* s.width + wx) \* C + c0;/const int cell = (wx * s.width + wy) * C + c0;/@max pooling's adjoint visits a window's cells transposed, so a tie goes to another than the first largest input (§12.1)"
  "pool-max-ties-all@native/cpu/image_ops.cc@s/left\[c\] = largest ? 0.0f : left\[c\];/(void)0;/@max pooling's adjoint sends a window's gradient to every tied largest input after the first cell, not to the first only (§12.1)"
  "col2im-kernel-order@native/cpu/image_ops.cc@s/const float\* cell = src + (ky \* s.kernel_w + kx) \* C;/const float* cell = src + (kx * s.kernel_h + ky) * C;/@im2col's adjoint reads the kernel transposed (§12.1)"
  "onednn-bias-column@native/cpu/onednn_conv.cc@s/p.bias_values\[j\] = w\[(size_t)j \* n + n - 1\];/p.bias_values[j] = w[(size_t)j * n];/@oneDNN's forward convolution takes W's first column as the bias, not its last (§12.7)"
  "onednn-kernel-transposed@native/cpu/onednn_conv.cc@s/w_strides{n, 1, (int64_t)s.kernel_w \* C, C};/w_strides{n, 1, C, (int64_t)s.kernel_w * C};/@oneDNN reads the engine's kernels with rows and columns swapped (§12.7)"
  "onednn-weights-unscaled@native/cpu/onednn_conv.cc@s/for (int k = 0; k + 1 < n; ++k) row\[k\] \*= alpha;/(void)0;/@oneDNN's weight gradient left summed over the batch, not averaged over the batch as the engine does (§12.7)"
  "onednn-weights-no-bias@native/cpu/onednn_conv.cc@s/row\[n - 1\] = with_bias ? alpha \* p.bias_values\[j\] : 0.0f;/row[n - 1] = 0.0f;/@oneDNN's weight gradient without the bias column (§12.7)"
  "rules-adamw-coupled@native/rules/first_order_rule.h@s/if (u.decoupled) theta \*= 1 - u.lr \* wd;/(void)0;/;s/const float g = u.decoupled ? grad : grad + wd \* theta;/const float g = grad + wd * theta;/@AdamW's decay coupled into the gradient as L2 (§15.1)"
  "rules-clip-per-layer@native/core/step_rules.cc@s/const bool clipped = clip_range(be, grad, net.param_count(), clip_norm);/bool clipped = false; for (int l = 0; l < net.num_layers(); ++l) clipped |= clip_range(be, grad + net.offset(l), net.offset(l + 1) - net.offset(l), clip_norm);/@the gradient clipped by each layer's norm instead of the global one (§15.2)"
  "rules-warmup-late@native/core/step_rules.cc@s/return (double)(k + 1) \/ (double)warmup_steps;/return (double)k \/ (double)warmup_steps;/@the warm-up one step late: factor k over W, the first step at 0 (§15.3)"
  "token-loss-per-sequence@native/core/network.cc@s/const float scale = 1.0f \/ (float)tokens;/const float scale = 1.0f;/;s/  return summed \/ tokens;/  return summed;/@the token model's loss and gradient summed over positions: a mean over sequences only (§18.1)"
  "token-grad-unscaled@native/core/network.cc@s/const float scale = 1.0f \/ (float)tokens;/const float scale = 1.0f;/@the token model's output gradient not divided by the sequence length (§18.1)"
  "token-loss-summed@native/core/network.cc@s/  return summed \/ tokens;/  return summed;/@the token model's loss summed over positions, not averaged (§18.1)"
  "token-no-causal-mask@native/cpu/token_ops.cc@s/static bool visible(int t, int s) { return s <= t; }/static bool visible(int, int) { return true; }/@attention sees later positions (§18.4)"
  "token-attention-unscaled@native/cpu/token_ops.cc@s/P\[t \* T + u\] = dot \* scale;/P[t * T + u] = dot;/@scores q·k not divided by √d_h (§18.4)"
  "token-no-residual-path@native/core/layers/residual.cc@s/p.backend.add_rows(p.own.in.data, p.own.in.ld, x.data, x.ld, out.data/p.backend.copy_rows(p.own.in.data, p.own.in.ld, out.data/@a residual block without its skip path (§18.5)"
  "token-no-residual-gradient@native/core/layers/residual.cc@s/p.backend.add_rows(p.own.out_grad.data, p.own.out_grad.ld, skipped, width_, in_grad.data/p.backend.copy_rows(p.own.out_grad.data, p.own.out_grad.ld, in_grad.data/@the skip path's gradient not added at the block's start (§18.5)"
  "token-layer-norm-grad@native/cpu/token_ops.cc@s/ - mean_d - xr\[c\] \* mean_dx/ - mean_d/@layer norm's input gradient without the x̂ mean(d ⊙ x̂) term (§18.2)"
  "token-no-position@native/cpu/token_ops.cc@s/(s.positional ? wc\[s.vocabulary + t\] : 0.0f)/0.0f/@the positional embedding left out of the forward pass (§18.1)"
  "token-dropout-counter-stuck@native/core/network.cc@s/    backend_.advance_counter(pass_counter_);/    (void)0;/@dropout's pass count in backend memory never advances: every training pass draws the same masks (§18.5, §18.9)"
  "token-dropout-counter-not-restored@native/core/network.cc@s/  backend_.to_device(pass_counter_, counter, 2);//@a resumed run's dropout pass count in backend memory starts again from 0 (§18.5, §18.9)"
  "token-one-hot-first-id@native/cpu/cpu_backend.cc@s/out\[r \* classes + (size_t)ids\[r\]\] = 1.0f;/out[r * classes + (size_t)ids[0]] = 1.0f;/@every token row's target is the batch's first id (§18.1)"
  "token-gelu-derivative@native/rules/elementwise_rules.h@s/(1 + 3 \* kGeluCubic \* h \* h)/(1 + kGeluCubic * h * h)/@GELU's derivative with a wrong cubic term (§18.3)"
  "token-kfac-a-summed@native/optim/kfac.cc@s/add \/ ((float)ws.batch \* S), ws.abar\[l\]/add \/ ws.batch, ws.abar[l]/@KFAC's A of a layer over tokens summed over positions, not averaged (§18.6)"
  "token-kfac-g-unscaled@native/optim/kfac.cc@s/add \* S \/ ws.batch, ws.g\[l\]/add \/ ((float)ws.batch * S), ws.g[l]/@KFAC's G of a layer over tokens from g, not from the token rows' gradients S g (§18.6)"
  "token-kbfgs-a-rows@native/optim/kbfgs.cc@s/be_->syrk(true, L.n, ws.rows(l), (1 - settings_.a_decay)/be_->syrk(true, L.n, ws.m, (1 - settings_.a_decay)/@K-BFGS's moving average of A from the first m rows only (§18.6)"
  "token-kbfgs-a-by-m@native/optim/kbfgs.cc@s/(1 - settings_.a_decay) \/ ((float)ws.batch \* L.tokens_as_samples)/(1 - settings_.a_decay) \/ (float)ws.batch/@K-BFGS's moving average of A over a layer's token rows divided by m, not m·S (§18.6)"
  "token-kbfgs-warm-a@native/optim/kbfgs.cc@s/ws.batch \* L.tokens_as_samples), ws.abar\[l\]/ws.batch), ws.abar[l]/@K-BFGS's warm-start A summed over positions (§18.6)"
  "token-kbfgs-y-unscaled@native/optim/kbfgs.cc@s/if (L.tokens_as_samples > 1) be_->axpby/if (false) be_->axpby/@K-BFGS's y from g, not from the token rows' gradients S g (§18.6)"
  "threads-attention-pair-skipped@native/cpu/token_ops.cc@s/for (int pair = begin; pair < end; ++pair)/for (int pair = begin + (begin > 0); pair < end; ++pair)/@attention's second thread skips its first (sample, head) pair (§18.8)"
  "threads-embedding-zeroes-all@native/cpu/token_ops.cc@s/std::fill(weight_grad + (size_t)begin \* n, weight_grad + (size_t)end \* n, 0.0f);/std::fill(weight_grad, weight_grad + (size_t)s.width * n, 0.0f);/@each thread of the embedding's weight gradient zeroes all rows, the other threads' sums too (§18.8)"
  "budget-epoch-ends-only@native/core/trainer.cc@s/b > 0 \&\& stop_wanted(), b > 0 \&\& out_of_time())/b > 0 \&\& stop_wanted(), false)/@the time budget judged only at epoch ends, not after every step (§2.2)"
  "budget-steps-of-model@native/core/trainer.cc@s/state.step - start_step >= config.max_steps/state.step >= config.max_steps/@maxSteps counts the model's steps, not this fit's (§2.2)"
  "budget-epoch-is-a-pass@native/core/trainer.cc@s/config.steps_per_epoch > 0 ? config.steps_per_epoch : pass;/pass;/@stepsPerEpoch ignored: every epoch one pass of the data (§2.2)"
  "budget-loss-rows-first@native/core/trainer.cc@s/rows\[i\] = (uint32_t)((int64_t)(start + i) \* data.rows \/ count);/rows[i] = (uint32_t)(start + i);/@trainingLossRows takes the first rows, not rows spread over the data (§2.2)"
  "budget-warm-start-pass@native/core/trainer.cc@s/config.warm_start_batches > 0 ? std::min(config.warm_start_batches, pass) : pass;/pass;/@warmStartBatches ignored: the warm start always one pass (§2.2)"
  "dist-budget-any-clock@native/core/trainer.cc@s/(double)(out_of_time \&\& comm.rank() == 0)/(double)out_of_time/@every rank's clock votes on the time budget, not rank 0's alone (§2.2, §13.1)"
  "bernoulli@native/rules/elementwise_rules.h@s/return uniform_at(seed, 2 \* i) < (double)p ? 1.0f : 0.0f;/return uniform_at(seed, 2 * i) < (double)(1 - p) ? 1.0f : 0.0f;/@KFAC's targets with P(t = 1) = 1 − sigmoid(z) (§5)"
  "shampoo-root-transposed@native/optim/shampoo.cc@s/be_->syrk(true, n, n, 1.0f, vectors_, n, 0.0f, side.transform, n);/be_->syrk(false, n, n, 1.0f, vectors_, n, 0.0f, side.transform, n);/@Shampoo's root from E diag Eᵀ, the eigenvector matrix transposed (§17.2)"
  "shampoo-no-grafting@native/optim/shampoo.cc@s/be_->axpby(count, (float)(adam_norm \/ own_norm), out, 0.0f, out);/(void)0;/@Shampoo's step without Adam's norm (§17.2)"
  "shampoo-root-exponent@native/optim/shampoo.cc@s/shift, -0.125)/shift, -0.25)/@Shampoo's inverse square roots instead of fourth roots (§17.2)"
  "kronecker-sum@native/optim/kronecker_statistics.cc@s/be_->syrk(false, L.d, L.n, 1 - beta, G, L.n, beta,/be_->syrk(false, L.d, L.n, 1.0f, G, L.n, 1.0f,/@L summed over the steps, not averaged with β₂ (§17.1)"
  "soap-basis-transposed@native/optim/soap.cc@s/stats_.sandwich(L, true, delta_ + at, false,/stats_.sandwich(L, false, delta_ + at, true,/@SOAP's step taken back with the transposed bases (§17.3)"
  "soap-basis-not-refreshed@native/optim/soap.cc@s/if (settings_.refresh_due(k)) {/if (k == settings_.start_preconditioning) {/@SOAP's basis computed once and never refreshed (§17.3)"
  "adaptive-model-half@native/optim/adaptive_damping.h@s/return 0.5 \* alpha \* alpha \* p.momentum_dir/return alpha * alpha * p.momentum_dir/@the quadratic model's curvature term without its ½ (§19.2)"
  "adaptive-model-momentum@native/optim/adaptive_damping.h@s/alpha \* alpha \* p.momentum_dir - alpha/alpha * alpha * p.grad_dir - alpha/@the model's curvature term from ⟨∇L, Δ⟩ instead of ⟨M, Δ⟩ (§19.2)"
  "adaptive-omega@native/optim/adaptive_damping.h@s/std::pow(19.0 \/ 20.0, s.every)/(19.0 \/ 20.0)/@ω = 19/20 instead of (19/20)^T (§19.1)"
  "adaptive-no-reinvert@native/optim/second_order.h@s/if (decided_damping_ != settings_.damping \&\& !std::isnan(decided_damping_)) set_hyperparameter(\"damping\", decided_damping_);/if (!std::isnan(decided_damping_)) settings_.damping = decided_damping_;/@a new λ without fresh inverses of the damped factors (§19.3)"
  "adaptive-own-gradient@native/optim/second_order.h@s/judged_products_ = {NAN, /judged_products_ = {be_->dot(n, ws.grad, delta_), /;s/judged_products_.grad_dir = be_->dot(n, ws.grad, judged_dir_);//@the model's linear term from the judged step's own minibatch, not the next one (§19.1)"
  "adaptive-not-back-to-theta-k@native/optim/second_order.h@s/be_->axpby(n, (float)judged_lr_, judged_dir_, 1.0f, net.params());//@the next minibatch judged at θ_{k+1} instead of θ_k (§19.1)"
  "adaptive-weights-not-restored@native/optim/second_order.h@s/be_->copy(net.params(), judge_scratch_, n);//@the weights left at θ_k after the judgement (§19.1)"
  "adaptive-no-rho-keeps@native/optim/adaptive_damping.h@s/next_damping(lambda, first_order > 0 ? -actual \/ first_order : 0.0, s_)/lambda/@λ left alone where the model predicts no decrease (§19.1)"
  "adaptive-no-rho-any-fall@native/optim/adaptive_damping.h@s/next_damping(lambda, first_order > 0 ? -actual \/ first_order : 0.0, s_)/next_damping(lambda, actual < 0 ? 1.0 : 0.0, s_)/@where the model predicts no decrease, any fall lowers λ instead of the share of the first-order decrease deciding (§19.1)"
  "adaptive-start-off@native/optim/second_order.h@s/if (k != 0 || !adaptive_.scales_start()) return;/if (k >= 0) return;/@the scaled start never made: λ starts at the fallback (§19.7)"
  "adaptive-start-alpha@native/optim/adaptive_damping.h@s/const double start = alpha \* std::sqrt(ghat2 \/ theta_theta);/const double start = std::sqrt(ghat2 \/ theta_theta);/@the scaled start without α (§19.7)"
  "adaptive-start-norm@native/optim/adaptive_damping.h@s/const double start = alpha \* std::sqrt(ghat2 \/ theta_theta);/const double start = alpha * std::sqrt(ghat2) \/ theta_theta;/@the scaled start divided by ‖θ₀‖² instead of ‖θ₀‖ (§19.7)"
  "adaptive-start-tau@native/optim/adaptive_damping.h@s/const double ghat2 = grad_grad + 2 \* tau \* grad_theta + tau \* tau \* theta_theta;/const double ghat2 = grad_grad;/@the scaled start from ∇L without τθ₀ (§19.7)"
  "adaptive-start-always@native/optim/factory.cc@s/k.adaptive.scaled_start = s.has(\"dampingScaledStart\") \&\& s.flag(\"dampingScaledStart\");/k.adaptive.scaled_start = true;/@a given start scaled too, so it is not the λ of the first step (§19.7)"
  "adaptive-start-judged-early@native/optim/adaptive_damping.h@s/k % s_.every == 0 \&\& k >= s_.first_judged;/k % s_.every == 0;/@steps judged during the momentum's warm-up after a scaled start (§19.7)"
  "soap-moments-not-rotated@native/optim/soap.cc@s/be_->gemm(false, false, d, n, d, 1.0f, vectors_, d, tmp_, n, 0.0f, m, n);/(void)0;/;s/be_->gemm(false, true, d, n, n, 1.0f, tmp_, n, vectors_, n, 0.0f, m, n);/(void)0;/@SOAP's first moment left in the old basis when the basis changes (§17.3)"
  "bits-adam-rounding@native/rules/first_order_rule.h@s/step = (m \/ bias1) \/ (sqrtf(v) \/ sqrtf(bias2) + eps);/step = m \/ (bias1 * (sqrtf(v) \/ sqrtf(bias2) + eps));/@PyTorch Adam's step as one division: the same formula, rounded otherwise (§9.1)"
)

restore=()
trap 'for f in "${restore[@]}"; do cp "build/mutant/orig/$f" "$f"; done' EXIT
mkdir -p build/mutant/orig
cmake_js=(node node_modules/cmake-js/bin/cmake-js compile --out build/mutant/cmake --CDKBFGS_CUDA=OFF
  --CDKBFGS_OUTPUT_DIR="$PWD/build/mutant/out")
export KBFGS_ADDON="$PWD/build/mutant/out/kbfgs_native.node"

for entry in "${MUTATIONS[@]}"; do
  IFS='@' read -r name file expr what <<<"$entry"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  mkdir -p "build/mutant/orig/$(dirname "$file")"
  cp "$file" "build/mutant/orig/$file"
  restore=("$file")
  sed -i "$expr" "$file"
  if cmp -s "$file" "build/mutant/orig/$file"; then
    echo "$name: the expression changed nothing in $file (fix the script)"; exit 1
  fi
  "${cmake_js[@]}" >build/mutant/build.log 2>&1 || { echo "$name: build failed (build/mutant/build.log)"; exit 1; }
  suites=(test/golden.test.ts test/golden-conv.test.ts test/backend.test.ts)
  [[ "$name" == dist-* ]] && suites=(test/distributed.test.ts)
  [[ "$name" == guard-* ]] && suites=(test/safeguard.test.ts)
  [[ "$name" == rules-* ]] && suites=(test/step-rules.test.ts)
  [[ "$name" == shampoo-* || "$name" == soap-* || "$name" == kronecker-* ]] && suites=(test/golden-shampoo.test.ts)
  [[ "$name" == token-* ]] && suites=(test/transformer.test.ts test/golden-transformer.test.ts test/token-ops.test.ts)
  [[ "$name" == adaptive-* ]] && suites=(test/adaptive-damping.test.ts)
  [[ "$name" == threads-* ]] && suites=(test/token-threads.test.ts)
  [[ "$name" == budget-* ]] && suites=(test/fit-budgets.test.ts)
  [[ "$name" == bits-* ]] && suites=(test/first-order-float32.test.ts test/backend.test.ts)
  run_env=()  # the oneDNN mutations on every shape oneDNN accepts, the golden suites' small ones included
  [[ "$name" == onednn-* ]] && run_env=(KBFGS_ONEDNN=all)
  out="$(env "${run_env[@]}" npx jest --runInBand --verbose "${suites[@]}" 2>&1)"
  failed="$(grep -E '✕' <<<"$out" | sed -E 's/^ *✕ //; s/ \([0-9]+ ms\)$//' | paste -sd ';' -)"
  if [ -n "$failed" ]; then echo "caught   $name ($what): $failed"; else echo "SURVIVED $name ($what)"; fi
  cp "build/mutant/orig/$file" "$file"
  restore=()
done
