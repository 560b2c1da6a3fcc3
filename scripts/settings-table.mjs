// Prints the configuration table for the README from the settings the service actually reads;
// with --write, replaces the table between the README's settings markers.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
execFileSync(process.execPath, ['scripts/build.mjs', '--if-needed'], { stdio: 'inherit' });
const { SETTINGS } = createRequire(import.meta.url)('../dist/libs/platform/src/config/app-config.js');
const rows = SETTINGS.map((s) => `| \`${s.name}\` | ${s.default.startsWith('(') ? s.default : `\`${s.default}\``} | ${s.description.replace(/\|/g, '\\|')} |`);
const table = ['| Variable | Default | What it does |', '| --- | --- | --- |', ...rows].join('\n');
if (process.argv.includes('--write')) {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('<!-- settings');
  const end = readme.indexOf('<!-- /settings -->');
  const head = readme.slice(0, readme.indexOf('\n', start) + 1);
  writeFileSync('README.md', `${head}${table}\n${readme.slice(end)}`);
} else {
  console.log(table);
}
