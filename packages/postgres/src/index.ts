/**
 * @cellojs/postgres: a PostgreSQL broker for Cello.ts channels, so one channel
 * spans every instance of an app, a client resumes on any of them, and an event
 * can be published inside the transaction that made it true.
 * @packageDocumentation
 */
export { postgresBroker, type PostgresBroker, type PostgresBrokerOptions, type SqlClient } from "./broker.js";
export { BrokerUnavailableError, redactUrl } from "./errors.js";
export { compareIds } from "./ids.js";
