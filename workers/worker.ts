import { runStandalone } from './standalone.js';

await runStandalone('worker');
