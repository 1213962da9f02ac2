// The stand-in's "build": copies src/ to dist/ (no compiler, no dependencies),
// so `npm ci && npm run build` works as it does for a NanoClaw checkout.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, entry.name);
    const b = path.join(to, entry.name);
    if (entry.isDirectory()) copyDir(a, b);
    else if (entry.isFile()) fs.copyFileSync(a, b);
  }
}

fs.rmSync(dist, { recursive: true, force: true });
copyDir(src, dist);
console.log(`built ${path.relative(process.cwd(), dist) || 'dist'} from src`);
