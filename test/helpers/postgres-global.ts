/**
 * vitest global setup for the `postgres` project: one private PostgreSQL cluster for the
 * whole run (each provider a test starts gets its own database in it, see test-store.ts).
 */
import type { TestProject } from 'vitest/node';
import { startPostgresCluster } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster's maintenance database URL; empty when the run has no cluster. */
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startPostgresCluster();
  project.provide('postgresUrl', cluster.url);
  return () => cluster.stop();
}
