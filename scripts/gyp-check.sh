#!/usr/bin/env bash
# The node-gyp build (binding.gyp) from a clean copy of the sources, then the backend and golden suites against
# it (KBFGS_ADDON), so that binding.gyp keeps building the addon that CMakeLists.txt builds. The copy lives in
# build/gyp (node-gyp always builds into build/ beside binding.gyp, and clears it first), so the developer's
# build (build/Release) is left alone. Part of `npm test`. GYP_JOBS sets node-gyp's parallel jobs (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$root/build/gyp"
rm -rf "$work"
mkdir -p "$work/scripts"
cp -R binding.gyp package.json native "$work/"
cp scripts/native-build.js "$work/scripts/"

# node-gyp: the one npm runs for packages (npm sets npm_config_node_gyp in scripts), else the one npm bundles.
gyp="${npm_config_node_gyp:-}"
if [ -z "$gyp" ]; then
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
fi
[ -f "$gyp" ] || { echo "gyp-check: node-gyp not found (npm bundles it; set npm_config_node_gyp)" >&2; exit 1; }
# Node's headers: those installed with this node where they are (no download), else node-gyp's own cache.
nodedir="$(node -p "require('path').resolve(process.execPath, '..', '..')")"
args=()
[ -f "$nodedir/include/node/common.gypi" ] && args+=(--nodedir="$nodedir")

echo "gyp-check: node-gyp rebuild in build/gyp"
(cd "$work" && node "$gyp" rebuild -j "${GYP_JOBS:-2}" ${args[@]+"${args[@]}"} >"$root/build/gyp.log" 2>&1) \
  || { tail -30 "$root/build/gyp.log"; echo "gyp-check: the node-gyp build failed (log: build/gyp.log)" >&2; exit 1; }
addon="$work/build/Release/kbfgs_native.node"
[ -f "$addon" ] || { echo "gyp-check: node-gyp built no $addon" >&2; exit 1; }

# What node-gyp compiled, and how: the listed sources and cuda_absent.cc, with the options CMakeLists.txt uses.
node - "$work/build/kbfgs_native.target.mk" <<'CHECK'
const fs = require('fs');
const mk = fs.readFileSync(process.argv[2], 'utf8');
const lines = mk.split('\n');
const block = (name) => {  // a make variable's value, over its continued lines
  let i = lines.findIndex((l) => l.startsWith(`${name} :=`));
  if (i < 0) throw new Error(`gyp-check: ${name} is not in the generated makefile`);
  const parts = [lines[i].slice(name.length + 3)];
  while (lines[i].endsWith('\\')) parts.push(lines[++i]);
  return parts.map((s) => s.replace(/\\$/, '').trim().replace(/^'|'$/g, '')).filter(Boolean);
};
const listed = fs.readFileSync('native/sources.txt', 'utf8').split('\n').map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const want = [...listed, 'native/cuda/cuda_absent.cc'].map((f) => f.replace(/\.cc$/, '.o')).sort();
const got = block('OBJS').map((o) => o.replace('$(obj).target/$(TARGET)/', '')).sort();
const problems = [];
if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`compiled ${got.join(' ')}\n  not the list ${want.join(' ')}`);
const cflags = block('CFLAGS_Release'), ccflags = block('CFLAGS_CC_Release'), defs = block('DEFS_Release');
const ldflags = block('LDFLAGS_Release'), libs = block('LIBS');
for (const f of ['-O3', '-ffp-contract=off', '-fno-math-errno']) if (!cflags.includes(f)) problems.push(`no ${f}`);
for (const f of ['-ffast-math', '-Ofast', '-O0', '-O2', '-fno-omit-frame-pointer']) if (cflags.includes(f)) problems.push(`${f} is on`);
if (cflags.lastIndexOf('-O3') < Math.max(...['-O0', '-O1', '-O2', '-Os'].map((o) => cflags.lastIndexOf(o)))) problems.push('-O3 is not the last level');
if (!ccflags.includes('-std=gnu++17')) problems.push('not C++17');
for (const f of ['-fno-exceptions', '-fno-rtti']) if (ccflags.includes(f)) problems.push(`${f} is on`);
for (const d of ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED', 'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS'])
  if (!defs.includes(`-D${d}`)) problems.push(`no -D${d}`);
if (!ldflags.includes('-Wl,--exclude-libs,ALL')) problems.push('OpenBLAS symbols are not kept private (--exclude-libs,ALL)');
if (!libs.some((l) => /openblas/.test(l))) problems.push('OpenBLAS is not linked');
if (problems.length > 0) { console.error(`gyp-check: the node-gyp build differs from the CMake build:\n  ${problems.join('\n  ')}`); process.exit(1); }
console.log(`gyp-check: node-gyp compiled the ${listed.length} listed sources and cuda_absent.cc with -O3 -ffp-contract=off -fno-math-errno, C++17, exceptions on; OpenBLAS: ${libs.filter((l) => /openblas/.test(l)).join(' ')}`);
CHECK
# OpenBLAS linked in where a static library was found (as the CMake build does), not needed at run time.
if node scripts/native-build.js openblas-libs | grep -q 'libopenblas\.a'; then
  if readelf -d "$addon" | grep -E 'NEEDED.*(openblas|gfortran|lapack|blas)'; then
    echo "gyp-check: the node-gyp build needs a BLAS library at run time" >&2; exit 1
  fi
fi

KBFGS_ADDON="$addon" npx jest --runInBand test/backend.test.ts test/golden.test.ts test/golden-conv.test.ts
