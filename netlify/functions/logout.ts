import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import prebuiltGates from '../gate-table.json' with { type: 'json' };
import { logoutHandler } from '../../src/auth/handlers.js';
import { functionRuntime } from '../../src/auth/runtime.js';

export const handler = logoutHandler(functionRuntime(process.env, gateConfig, prebuiltGates));
