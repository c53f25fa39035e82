import type { Handler } from '@netlify/functions';
import { adminHandler } from '../auth/admin-handler.js';
import { functionRuntime } from '../auth/runtime.js';
import { configOf, type CompiledSite } from './prebuilt.js';

/** The `admin` function: the admin page's API, where the config turns it on (`rolegate/functions/admin`). */
export function handlerFor(compiled: CompiledSite): Handler {
  return adminHandler(functionRuntime(process.env, configOf(compiled), compiled));
}
