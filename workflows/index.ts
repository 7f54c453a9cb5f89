export { sourceController } from './source-controller.js';
export { syncRun } from './sync-run.js';
export { uploadSync } from './upload-sync.js';
export { purgeLake } from './purge-lake.js';
