import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { startPostgresCluster } from './postgres-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
  }
}

/**
 * One real PostgreSQL for the whole run, with the roles Supabase has
 * (anon, authenticated, service_role with BYPASSRLS, and the authenticator
 * login that PostgREST switches from), so grants and RLS are tested as they
 * will be deployed. Each test file makes its own database in it.
 */
export default async function setup(project: TestProject) {
  const [major, minor] = process.versions.node.split('.').map(Number);
  console.log(`rolegate tests: Node ${process.version}`);
  if (major! < 22 || (major === 22 && minor! < 13)) {
    throw new Error(`the tests need Node >= 22.13 and run on ${process.version}: run them with npm test after npm install (which brings Node 22 when the machine's own is older)`);
  }
  const cluster = await startPostgresCluster();
  const client = new pg.Client({ connectionString: cluster.adminUrl });
  await client.connect();
  await client.query(`
    create role anon nologin;
    create role authenticated nologin;
    create role service_role nologin bypassrls;
    create role authenticator login noinherit;
    grant anon, authenticated, service_role to authenticator;
  `);
  await client.end();
  project.provide('postgresAdminUrl', cluster.adminUrl);
  return () => cluster.stop();
}
