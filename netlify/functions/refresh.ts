import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import prebuiltGates from '../gate-table.json' with { type: 'json' };
import { refreshHandler } from '../../src/auth/handlers.js';
import { functionRuntime } from '../../src/auth/runtime.js';

export const handler = refreshHandler(functionRuntime(process.env, gateConfig, prebuiltGates));
