// Constants of the BFGS inverse update with the reference safeguards (algorithm.md §3.5) and of the double damping
// of the G-side pair (algorithm.md §3.4). The rules themselves are in rules/curvature_rules.h and run inside the
// backends (Backend::damp_pair, Backend::bfgs_update); K-BFGS and K-BFGS(L) share them.
#pragma once

namespace kb {

constexpr double kPowellMu1 = 0.2;           // μ₁, hard-coded in the reference (algorithm.md §3.4)
constexpr double kBfgsSkipThreshold = 1e-4;  // algorithm.md §3.5

}  // namespace kb
