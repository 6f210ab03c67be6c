/**
 * Shared by every vitest.config.ts of this repository: `@cellojs/*` imports
 * resolve to the packages' TypeScript sources through their "@cellojs/source"
 * export condition (see tsconfig.base.json), so tests need no build. vitest
 * runs tests in Vite's server environment, hence `ssr.resolve`; the other
 * entries are Vite's default server conditions, which a list given here replaces.
 */
export const sourceResolution = {
  ssr: { resolve: { conditions: ["@cellojs/source", "module", "node", "development|production"] } },
};
