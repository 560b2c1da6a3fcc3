// Jest runs CommonJS: @swc/jest compiles our TypeScript (decorator metadata on) and also the
// ESM-only NestJS 12 packages, which transformIgnorePatterns lets through.
const esmOnly = ['@nestjs', 'uuid', 'file-type', 'strtok3', 'token-types', 'peek-readable', 'uint8array-extras'];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: {
    '^.+\\.(t|j|mj|cj)s$': [
      '@swc/jest',
      {
        swcrc: false,
        module: { type: 'commonjs' },
        jsc: {
          target: 'es2022',
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
          keepClassNames: true,
        },
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleNameMapper: { '^@arbiter/([^/]+)$': '<rootDir>/libs/$1/src/index.ts' },
  testTimeout: 60000,
};
