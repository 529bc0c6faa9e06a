/**
 * `kbfgs-native/internal`: the raw native module (every Backend operation on Float32Arrays, the curvature
 * building blocks, the thread count) for the package's own tests, parity runs and benchmarks. Not part of the
 * public API: its shape follows the engine and may change in any release.
 */
export { addon as native } from './binding';
export type { NativeAddon, NativeBackendOps, NativeCurvatureOps, FirstOrderUpdateSettings } from './binding';
