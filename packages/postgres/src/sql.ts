/**
 * Every SQL statement the broker sends, built once per broker from its table
 * names. Values always travel as parameters ($1, $2...): only the schema and
 * table prefix are spliced in, and those are checked identifiers, quoted.
 */
import { CelloError } from "@cellojs/core";

/** The quoted names a broker works on, and the LISTEN/NOTIFY channel its instances share. */
export interface TableNames {
  /** `"schema"."<prefix>channels"`: one row per channel (its last id, where it starts). */
  channels: string;
  /** `"schema"."<prefix>events"`: the history, one row per event. */
  events: string;
  /** `"schema"."<prefix>rate_limits"`: rate-limiter-flexible's counters. */
  rateLimits: string;
  /** The schema, quoted. */
  schema: string;
  /** The unquoted schema and table names, for `to_regclass` and messages. */
  plain: { schema: string; channels: string; events: string; rateLimits: string };
  /** The NOTIFY channel (unquoted); LISTEN channels are per database, so it names the schema too. */
  notifyChannel: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The table names for `schema` and `tablePrefix`, after checking both are plain
 * identifiers short enough for PostgreSQL's 63-byte names (a CelloError
 * `CELLO_INVALID_OPTION` otherwise, before any connection opens).
 */
export function tableNames(schema: string, tablePrefix: string): TableNames {
  if (typeof schema !== "string" || !IDENTIFIER.test(schema) || schema.length > 40) {
    throw new CelloError("CELLO_INVALID_OPTION", `postgresBroker(): schema must be an identifier of letters, digits and _ (at most 40), got ${JSON.stringify(schema)}`);
  }
  if (typeof tablePrefix !== "string" || !(tablePrefix === "" || IDENTIFIER.test(tablePrefix)) || tablePrefix.length > 40) {
    throw new CelloError("CELLO_INVALID_OPTION", `postgresBroker(): tablePrefix must be letters, digits and _, not starting with a digit (at most 40), got ${JSON.stringify(tablePrefix)}`);
  }
  const plain = { schema, channels: `${tablePrefix}channels`, events: `${tablePrefix}events`, rateLimits: `${tablePrefix}rate_limits` };
  const quote = (name: string) => `"${name}"`;
  return {
    channels: `${quote(schema)}.${quote(plain.channels)}`,
    events: `${quote(schema)}.${quote(plain.events)}`,
    rateLimits: `${quote(schema)}.${quote(plain.rateLimits)}`,
    schema: quote(schema),
    plain,
    // At most 40 + 1 + 40 + 6 bytes: under NAMEDATALEN (64), so it is never truncated.
    notifyChannel: `${schema}.${tablePrefix}notify`,
  };
}

/** The database's clock in ms since the epoch: every instance stamps events with the same clock. */
const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/**
 * A channel name longer than this many UTF-8 bytes rides the notification as its
 * MD5 (a NOTIFY payload holds at most 8000 bytes); the reader matches it by digest.
 */
export const NOTIFY_NAME_BYTES = 1000;

/**
 * The history is trimmed to `history` events each time a channel's ids pass a
 * multiple of this, so a channel holds `history` to `history + TRIM_EVERY - 1`
 * events: one DELETE per hundred publishes instead of one each, and the earliest
 * id held moves in steps, not with every publish (as Redis's `MAXLEN ~` does).
 */
export const TRIM_EVERY = 100;

/** The SQL of one broker. */
export interface Statements {
  /** The tables, idempotent: safe to run from every instance at once (under an advisory lock). */
  ddl: string;
  /**
   * Publish one or more events of one channel: bump the channel's last id by their
   * number (row lock), insert them, trim, notify once. $1 channel, $2 event types,
   * $3 data, $4 audiences (arrays, one element per event), $5 their number, $6 history,
   * $7 notify channel. Returns the last id.
   */
  publish: string;
  /** Like {@link Statements.publish}, also dropping events older than $8 ms. */
  publishWithTtl: string;
  /** Drop the events of $1 older than $2 ms (always the oldest first: ids stay consecutive). */
  expire: string;
  /** Drop the events of $1 up to id $2 (after a burst: the publish statement cannot see its own rows). */
  trim: string;
  /** The channel's row and the events after $2 (null: from its start), at most $3 (null: all), in one snapshot. */
  replay: string;
  /** The channel's row only. */
  channel: string;
  /** The channels' last ids ($1 names). */
  lastIds: string;
  /** Delete the events of $1 and move its start past every id issued so far. */
  deleteEvents: string;
  deleteChannel: string;
  /** The events after each channel's position ($1 names, $2 positions, $3 page size), with each channel's last id. */
  fetch: string;
  /** `to_regclass` of both tables: null when missing. */
  exists: string;
}

/** Build the statements for `names`. */
export function statements(names: TableNames): Statements {
  const { channels: C, events: E } = names;
  // $2 events, $3 data, $4 audiences: one element per event, in order. The channel's
  // row is bumped by their number (and locked until commit); they get the ids after it.
  const publishWith = (ttl: boolean) => `WITH input AS (
  SELECT * FROM unnest($2::text[], $3::bytea[], $4::text[]) WITH ORDINALITY AS t(event, data, audience, n)
), ch AS (
  INSERT INTO ${C} AS c (name, last_seq) VALUES ($1, $5::bigint)
  ON CONFLICT (name) DO UPDATE SET last_seq = c.last_seq + $5::bigint
  RETURNING last_seq
), added AS (
  INSERT INTO ${E} (channel, seq, event, data, audience, at_ms)
  SELECT $1, ch.last_seq - $5::bigint + input.n, input.event, input.data, input.audience, ${NOW_MS} FROM ch, input
), trimmed AS (
  DELETE FROM ${E} AS e USING ch WHERE e.channel = $1 AND ((ch.last_seq / ${TRIM_EVERY} <> (ch.last_seq - $5::bigint) / ${TRIM_EVERY} AND e.seq <= ch.last_seq - $6::bigint)${
    ttl ? ` OR e.seq <= (SELECT max(seq) FROM ${E} WHERE channel = $1 AND at_ms < ${NOW_MS} - $8::bigint)` : ""
  })
)
SELECT last_seq::text AS last, pg_notify($7, CASE WHEN octet_length($1) <= ${NOTIFY_NAME_BYTES} THEN last_seq || ':' || $1 ELSE last_seq || '#' || md5($1) END) FROM ch`;
  return {
    ddl: `CREATE SCHEMA IF NOT EXISTS ${names.schema};
CREATE TABLE IF NOT EXISTS ${C} (
  name text PRIMARY KEY,
  last_seq bigint NOT NULL,
  start_seq bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ${E} (
  channel text NOT NULL,
  seq bigint NOT NULL,
  event text,
  data bytea NOT NULL,
  audience text,
  at_ms bigint NOT NULL,
  PRIMARY KEY (channel, seq)
);
CREATE TABLE IF NOT EXISTS ${names.rateLimits} (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);`,
    publish: publishWith(false),
    publishWithTtl: publishWith(true),
    expire: `DELETE FROM ${E} WHERE channel = $1 AND seq <= (SELECT max(seq) FROM ${E} WHERE channel = $1 AND at_ms < ${NOW_MS} - $2::bigint)`,
    trim: `DELETE FROM ${E} WHERE channel = $1 AND seq <= $2::bigint`,
    replay: `SELECT 0 AS kind, c.last_seq::text AS seq, c.start_seq::text AS start, (SELECT min(seq) FROM ${E} WHERE channel = $1)::text AS earliest, NULL::text AS event, NULL::bytea AS data, NULL::text AS audience
  FROM ${C} c WHERE c.name = $1
UNION ALL
(SELECT 1, seq::text AS seq_text, NULL, NULL, event, data, audience FROM ${E}
  WHERE channel = $1 AND seq > COALESCE($2::bigint, (SELECT start_seq FROM ${C} WHERE name = $1), 0)
  ORDER BY seq LIMIT $3::bigint)`,
    channel: `SELECT 0 AS kind, last_seq::text AS seq, start_seq::text AS start, (SELECT min(seq) FROM ${E} WHERE channel = $1)::text AS earliest FROM ${C} WHERE name = $1`,
    lastIds: `SELECT name, last_seq::text AS last FROM ${C} WHERE name = ANY($1::text[])`,
    deleteEvents: `DELETE FROM ${E} WHERE channel = $1`,
    deleteChannel: `UPDATE ${C} SET last_seq = last_seq + 1, start_seq = last_seq + 1 WHERE name = $1`,
    fetch: `SELECT p.name, c.last_seq::text AS last, e.seq::text AS seq, e.event, e.data, e.audience, e.at_ms::text AS at_ms
FROM unnest($1::text[], $2::bigint[]) AS p(name, after)
LEFT JOIN ${C} c ON c.name = p.name
LEFT JOIN LATERAL (SELECT seq, event, data, audience, at_ms FROM ${E} WHERE channel = p.name AND seq > p.after ORDER BY seq LIMIT $3::bigint) e ON true
ORDER BY p.name, e.seq`,
    exists: `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL AS ok`,
  };
}
