import { runStandalone } from './standalone.js';

await runStandalone('api');
