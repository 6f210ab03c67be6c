/**
 * `@cellojs/testing/conformance`: the shared test suites every implementation of
 * a Cello.ts contract runs (vitest). Kept apart from the package's main entry,
 * which works under any test runner: only this one loads vitest.
 * @packageDocumentation
 */
export { runBrokerConformance, type BrokerConformanceOptions, type MakeBroker } from "./broker-conformance.js";
