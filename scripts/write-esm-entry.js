// Writes dist/index.mjs, the ESM entry, re-exporting every named export of the CommonJS build.
const fs = require('fs');
const path = require('path');
const dist = path.join(__dirname, '..', 'dist');
const names = Object.keys(require(path.join(dist, 'index.js'))).filter((n) => n !== 'default' && n !== '__esModule');
const body = `import lib from './index.js';\nexport const { ${names.join(', ')} } = lib;\nexport default lib;\n`;
fs.writeFileSync(path.join(dist, 'index.mjs'), body);
fs.writeFileSync(path.join(dist, 'index.d.mts'), "export * from './index.js';\n");
