/**
 * The generated auth functions carry the gate table compiled at build time
 * (src/gates/functions-build.ts). It must be the table the full validation
 * makes from rolegate.config.json, and a function must refuse to start on a
 * table compiled from another config rather than gate with stale rules.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import { compileSiteConfig } from '../../src/site-config/compile.js';
import { gateTableFromConfig } from '../../src/gates/compile.js';
import { StaleGateTableError, prebuiltGateTable } from '../../src/site-config/compiled.js';
import { functionRuntime } from '../../src/auth/runtime.js';
import { handlerFor } from '../../src/functions/login.js';

const env = { JWT_SECRET: 'gate-table-test-secret-0123456789abcdefgh', ROLEGATE_DATA_DIR: 'memory://' };
const prebuilt = compileSiteConfig(gateConfig);

afterEach(() => vi.unstubAllEnvs());

describe('the prebuilt gate table', () => {
  it('is the table compiled from the current rolegate.config.json', () => {
    expect(prebuiltGateTable(gateConfig, prebuilt)).toEqual(gateTableFromConfig(gateConfig));
  });

  it('is refused at cold start once the config beside it is another one', () => {
    const edited = { ...gateConfig, gates: [...gateConfig.gates, { path: '/finance/*', roles: ['finance'] }] };
    expect(() => functionRuntime(env, edited, prebuilt)).toThrow(StaleGateTableError);
    expect(() => functionRuntime(env, edited, prebuilt)).toThrow(/rolegate gates build/);
    expect(() => functionRuntime(env, gateConfig, { ...prebuilt, table: undefined })).toThrow(StaleGateTableError);
    expect(() => functionRuntime(env, gateConfig, prebuilt)).not.toThrow();
  });

  it('is what a package handler is built from (rolegate/functions/login)', () => {
    vi.stubEnv('JWT_SECRET', env.JWT_SECRET);
    vi.stubEnv('ROLEGATE_DATA_DIR', env.ROLEGATE_DATA_DIR);
    expect(typeof handlerFor(prebuilt)).toBe('function');
    expect(() => handlerFor({ ...prebuilt, table: undefined } as never)).toThrow(StaleGateTableError);
  });
});
