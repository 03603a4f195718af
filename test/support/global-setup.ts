import type { TestProject } from 'vitest/node';
import { startTestEnv, type RunningEnv } from './test-env.js';
import './env-types.js';

let running: RunningEnv | undefined;

/** Vitest global setup of the integration project: start the real servers once, hand their addresses to the tests. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  running = await startTestEnv();
  project.provide('env', running.env);
  return async () => {
    await running?.stop();
  };
}
