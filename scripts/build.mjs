// Compiles apps/, libs/ and bench/ to CommonJS under dist/ with swc (about a second), rewriting the
// @arbiter/<lib> aliases to relative paths. Node >= 20.19 loads the ESM-only NestJS 12 packages
// from CommonJS through require(esm). Type checking is `npm run typecheck` (tsc), not this script.
// `--if-needed` skips the work when no source file is newer than the last build.
import { transformFile } from '@swc/core';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');
const stamp = join(out, '.build-stamp');
const sourceDirs = ['apps', 'libs', 'bench'];

async function walk(dir, files = []) {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return files;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, files);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

const files = (await Promise.all(sourceDirs.map((d) => walk(join(root, d))))).flat();

if (process.argv.includes('--if-needed')) {
  const built = await stat(stamp).then((s) => s.mtimeMs, () => 0);
  const newest = Math.max(...(await Promise.all(files.map((f) => stat(f).then((s) => s.mtimeMs)))));
  if (built >= newest) process.exit(0);
}

const options = (filename) => ({
  filename,
  sourceMaps: true,
  swcrc: false,
  module: { type: 'commonjs', strict: true },
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    keepClassNames: true,
    baseUrl: root,
    paths: { '@arbiter/*': ['./libs/*/src/index.ts'] },
  },
});

await Promise.all(
  files.map(async (file) => {
    const { code, map } = await transformFile(file, options(file));
    const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, `${code}\n//# sourceMappingURL=${target.split('/').pop()}.map\n`);
    if (map) await writeFile(`${target}.map`, map);
  }),
);
await writeFile(stamp, new Date().toISOString());
console.log(`built ${files.length} files into dist/`);
