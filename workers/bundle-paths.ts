import { fileURLToPath } from 'node:url';

/**
 * Where the workflows and their prebuilt bundle are, apart from the worker
 * itself: the API's start reads the bundle path without loading the worker
 * SDK's activities and every source kind's client library.
 */

/** Compiled (dist/, plain node) or the TypeScript sources (tsx, tests): the workflows sit beside us either way. */
const compiled = import.meta.url.endsWith('.js');

export const workflowsPath = fileURLToPath(new URL(compiled ? '../workflows/index.js' : '../workflows/index.ts', import.meta.url));

/** Where `npm run build` writes the workflow bundle (dist/workflow-bundle.js); none when running the sources. */
export const prebuiltBundlePath: string | undefined = compiled ? fileURLToPath(new URL('../workflow-bundle.js', import.meta.url)) : undefined;
