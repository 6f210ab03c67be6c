// `node server.js --port 0` (after tsc) or `tsx server.ts --port 0`.
import { app, decorators } from "./app.js";

console.log(`decorators: ${decorators}`);
await app.run(); // prints "Cello.ts running on <url>"
