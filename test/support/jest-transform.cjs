// Jest runs CommonJS. Our TypeScript goes through @swc/jest (decorator metadata on); so does any
// file under node_modules that is written as an ES module (NestJS 12 and several of its
// dependencies ship only ESM). Plain CommonJS files from node_modules pass through untouched,
// which keeps the first, uncached run fast.
const { createTransformer } = require('@swc/jest');

const swc = createTransformer({
  swcrc: false,
  module: { type: 'commonjs' },
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    keepClassNames: true,
  },
});

const ESM = /^\s*(import\s*[\w{*'"]|export\s+[\w{*]|export\s*\{)/m;

module.exports = {
  process(source, filename, options) {
    if (filename.includes('/node_modules/') && !filename.endsWith('.mjs') && !ESM.test(source)) return { code: source };
    return swc.process(source, filename, options);
  },
  getCacheKey(source, filename, options) {
    return swc.getCacheKey(source, filename, options);
  },
};
