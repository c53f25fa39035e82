/**
 * The auth functions read the gate table compiled at build time
 * (netlify/gate-table.json). It must be the table the full validation makes
 * from rolegate.config.json, and a function must refuse to start on a table
 * compiled from another config rather than gate with stale rules.
 */
import { describe, expect, it } from 'vitest';
import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import prebuilt from '../../netlify/gate-table.json' with { type: 'json' };
import { gateTableFromConfig } from '../../src/gates/compile.js';
import { StaleGateTableError, prebuiltGateTable } from '../../src/auth/prebuilt-gates.js';
import { functionRuntime } from '../../src/auth/runtime.js';

const env = { JWT_SECRET: 'gate-table-test-secret-0123456789abcdefgh', ROLEGATE_DATA_DIR: 'memory://' };

describe('the prebuilt gate table', () => {
  it('is the table compiled from the current rolegate.config.json (run "npm run build" when this fails)', () => {
    expect(prebuiltGateTable(gateConfig, prebuilt)).toEqual(gateTableFromConfig(gateConfig));
  });

  it('is refused at cold start once the config has changed since it was compiled', () => {
    const edited = { ...gateConfig, gates: [...gateConfig.gates, { path: '/finance/*', roles: ['finance'] }] };
    expect(() => functionRuntime(env, edited, prebuilt)).toThrow(StaleGateTableError);
    expect(() => functionRuntime(env, edited, prebuilt)).toThrow(/npm run build/);
    expect(() => functionRuntime(env, gateConfig, { ...prebuilt, table: undefined })).toThrow(StaleGateTableError);
    expect(() => functionRuntime(env, gateConfig, prebuilt)).not.toThrow();
  });
});
