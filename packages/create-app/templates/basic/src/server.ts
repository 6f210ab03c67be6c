/**
 * Start the app: `npm start`, or `npm run dev` to restart on every change.
 * Listens on 127.0.0.1:8000 unless told otherwise: `--port 3000` / `--host 0.0.0.0`
 * flags, or the PORT / HOST environment variables. Ctrl+C closes gracefully.
 */
import { app } from "./app.js";

app.enableLogging();
await app.run();
