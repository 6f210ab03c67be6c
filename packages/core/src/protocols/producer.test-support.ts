/**
 * Shared by the protocol stream tests (ai-sdk.test.ts, openai.test.ts): a text
 * cut into deltas and a fake model that yields them, counting how its runs end.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** `text` cut into deltas of `size` characters (by code point: no split surrogate pair). */
export function splitDeltas(text: string, size: number): string[] {
  return Array.from(text).reduce<string[]>((parts, char, index) => {
    if (index % size === 0) parts.push(char);
    else parts[parts.length - 1] += char;
    return parts;
  }, []);
}

/** How the fake model's runs went. */
export interface ProducerState {
  started: number;
  ended: number;
  aborted: number;
  /** performance.now() at each abort. */
  abortedAt: number[];
}

/** A fresh {@link ProducerState}. */
export function producerState(): ProducerState {
  return { started: 0, ended: 0, aborted: 0, abortedAt: [] };
}

/** A fake model: yields `deltas` one every `delayMs`, stopping when `signal` aborts. */
export async function* model(deltas: readonly unknown[], delayMs: number, signal: AbortSignal, state: ProducerState): AsyncGenerator<unknown> {
  state.started++;
  try {
    for (const delta of deltas) {
      await sleep(delayMs, undefined, { signal });
      yield delta;
    }
  } finally {
    state.ended++;
    if (signal.aborted) {
      state.aborted++;
      state.abortedAt.push(performance.now());
    }
  }
}
