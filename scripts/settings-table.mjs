// Prints the configuration table for the README from the settings the service actually reads.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
execFileSync(process.execPath, ['scripts/build.mjs', '--if-needed'], { stdio: 'inherit' });
const { SETTINGS } = createRequire(import.meta.url)('../dist/libs/platform/src/config/app-config.js');
console.log('| Variable | Default | What it does |\n| --- | --- | --- |');
for (const s of SETTINGS) console.log(`| \`${s.name}\` | ${s.default.startsWith("(") ? s.default : `\`${s.default}\``} | ${s.description.replace(/\|/g, "\\|")} |`);
