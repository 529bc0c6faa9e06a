// What the seed sweeps share: seed lists such as "1-10" or "1,3,5-7", and their JSON-lines logs, which are
// appended to one run at a time so that an interrupted sweep resumes where it stopped.
const fs = require('fs');

/** "1-3,7" → [1, 2, 3, 7]. */
function seedList(text) {
  return text.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

/** The records of a log, [] when it does not exist yet. */
function readLog(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

function appendRecord(file, record) {
  fs.appendFileSync(file, JSON.stringify(record) + '\n');
}

module.exports = { seedList, readLog, appendRecord };
