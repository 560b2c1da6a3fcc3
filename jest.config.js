// Jest runs CommonJS; test/support/jest-transform.cjs compiles our TypeScript and the ESM-only
// packages (NestJS 12 and friends) with swc. PGlite loads its WebAssembly through a dynamic
// import(), which Jest allows only with --experimental-vm-modules (set by `npm test`).

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: { '^.+\\.(t|j|mj|cj)s$': '<rootDir>/test/support/jest-transform.cjs' },
  transformIgnorePatterns: [],
  moduleNameMapper: { '^@arbiter/([^/]+)$': '<rootDir>/libs/$1/src/index.ts' },
  reporters: ['default', '<rootDir>/test/support/summary-reporter.cjs'],
  globalSetup: '<rootDir>/test/support/global-setup.cjs',
  testTimeout: 60000,
  // A suite that leaves a socket open must not hang CI; the summary line is already printed.
  forceExit: true,
};
