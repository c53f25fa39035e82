import gateConfig from '../../rolegate.config.json' with { type: 'json' };
import prebuiltGates from '../gate-table.json' with { type: 'json' };
import { loginHandler } from '../../src/auth/handlers.js';
import { functionRuntime } from '../../src/auth/runtime.js';

export const handler = loginHandler(functionRuntime(process.env, gateConfig, prebuiltGates));
