/**
 * The last step of `npm run build`, run compiled from dist/: what tsc does
 * not emit. The workflow bundle is made from the compiled workflows, so the
 * worker runs exactly the code it was built with, with no bundler at start;
 * the SQL migrations are copied beside the compiled migrator that reads them,
 * and the .proto files beside the gRPC server that loads them.
 */
import { cp, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { prebuiltBundlePath, workflowsPath } from '../workers/bundle-paths.js';

if (!prebuiltBundlePath) throw new Error('run build-assets compiled, from dist/ (npm run build)');
const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
await writeFile(prebuiltBundlePath, code);
await cp(fileURLToPath(new URL('../../db/migrations', import.meta.url)), fileURLToPath(new URL('../db/migrations', import.meta.url)), { recursive: true });
// The gRPC server loads its .proto files at start (api/grpc/server.ts), from proto/ beside the compiled code.
await cp(fileURLToPath(new URL('../../proto', import.meta.url)), fileURLToPath(new URL('../proto', import.meta.url)), { recursive: true });
console.log(`build: workflow bundle ${prebuiltBundlePath} (${(code.length / 1024).toFixed(0)} KiB), migrations and protos copied`);
