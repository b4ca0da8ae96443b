import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start real containers on a 2-core machine and share one
    // data dir of base images: run files one at a time.
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    // Gateways in tests log warnings and errors only (src/telemetry/gateway-log.ts).
    env: { KILN_LOG_LEVEL: 'warn' },
    hookTimeout: 600_000,
  },
});
