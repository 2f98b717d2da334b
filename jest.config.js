/**
 * Jest runs TypeScript as native ESM (ts-jest, isolatedModules) on the Node 24 from devDependencies.
 * Two projects: the end-to-end tests run the built action (dist/), so their project rebuilds it
 * first when src/ changed since (its globalSetup runs only when one of its tests is selected, so
 * `npm run test:unit` never waits for a build); it also starts the Prometheus pool the e2e
 * sandboxes share, which its globalTeardown stops.
 */
const typescript = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.dev.json' }]
  }
}

export default {
  testTimeout: 30000,
  // The fast tiers are CPU-bound: two workers on a two-core runner. `npm test` runs everything
  // with three (--maxWorkers=3): the end-to-end files spend most of their time waiting on real
  // time (steps, checks, lease expiry), and a third worker overlaps those waits.
  maxWorkers: 2,
  projects: [
    {
      ...typescript,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      // __tests__/statistical runs on Node's own test runner (npm run test:statistical).
      testPathIgnorePatterns: [
        '/node_modules/',
        '<rootDir>/__tests__/e2e/',
        '<rootDir>/__tests__/statistical/'
      ]
    },
    {
      ...typescript,
      displayName: 'e2e',
      testMatch: ['<rootDir>/__tests__/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/__tests__/e2e/global-setup.ts',
      globalTeardown: '<rootDir>/__tests__/e2e/global-teardown.ts'
    }
  ]
}
