import type { Env } from '../core/environment.js';
import type { Store } from '../store/store.js';
import type { IdentitySyncConfig } from '../site-config/identity.js';
import type { IdentitySink } from './sink.js';
import { storeSink } from './sinks/store.js';
import { RolegateError } from '../core/rolegate-error.js';

/** A sink's settings are missing or wrong; the message names the variable, never a value. */
export class SinkConfigError extends RolegateError {
  readonly code = 'sink_not_configured';
  constructor(message: string) {
    super(message);
    this.name = 'SinkConfigError';
  }
}

function required(env: Env, name: string, sink: string): string {
  const value = env[name];
  if (!value) throw new SinkConfigError(`${name} is required when "${sink}" is among identity.sinks`);
  return value;
}

/**
 * Every sink rolegate knows, by the name used in identity.sinks. Adding a
 * sink is its own file in src/sync/sinks/ plus one entry here; sinks other
 * than the store are imported only when a site configures them.
 */
const SINKS: Record<IdentitySyncConfig['sinks'][number], (env: Env, store: Store) => Promise<IdentitySink>> = {
  store: async (_env, store) => storeSink(store),
  contentful: async (env) => {
    const { contentfulSink } = await import('./sinks/contentful.js');
    return contentfulSink({
      spaceId: required(env, 'CONTENTFUL_SPACE_ID', 'contentful'),
      managementToken: required(env, 'CONTENTFUL_MANAGEMENT_TOKEN', 'contentful'),
      environmentId: env.CONTENTFUL_ENVIRONMENT || undefined,
      contentTypeId: env.CONTENTFUL_CONTENT_TYPE || undefined,
      publish: env.CONTENTFUL_PUBLISH === 'on',
    });
  },
};

export async function openSinks(config: IdentitySyncConfig, env: Env, store: Store): Promise<IdentitySink[]> {
  return Promise.all(config.sinks.map((name) => SINKS[name](env, store)));
}
