// @ts-check
/**
 * Terminal prompts on node:readline. Only used when stdin and stdout are TTYs;
 * Ctrl+C or Ctrl+D at a prompt cancels the whole run.
 */
import { createInterface } from "node:readline/promises";

/** Thrown when the user cancels at a prompt. */
export class CancelledError extends Error {
  constructor() {
    super("Operation cancelled");
    this.name = "CancelledError";
  }
}

/**
 * A question-asking session over one readline interface.
 *
 * @example
 * const prompter = createPrompter();
 * try {
 *   const name = await prompter.text("Project name", "cello-app");
 * } finally {
 *   prompter.close();
 * }
 * @param {NodeJS.ReadableStream} [input] - default: stdin
 * @param {NodeJS.WritableStream} [output] - default: stdout
 */
export function createPrompter(input = process.stdin, output = process.stdout) {
  const rl = createInterface({ input, output });
  const controller = new AbortController();
  let closed = false;
  // Without a listener, readline pauses on Ctrl+C and the pending question never settles.
  rl.on("SIGINT", () => controller.abort());
  rl.on("close", () => controller.abort());

  /** @param {string} query */
  async function ask(query) {
    try {
      return await rl.question(query, { signal: controller.signal });
    } catch (err) {
      if (controller.signal.aborted) throw new CancelledError();
      throw err;
    }
  }

  return {
    /**
     * Ask for a line of text; an empty answer takes `defaultValue`. `validate`
     * returns an error message to ask again, or undefined to accept.
     * @param {string} message
     * @param {string} defaultValue
     * @param {(value: string) => string | undefined} [validate]
     * @returns {Promise<string>}
     */
    async text(message, defaultValue, validate) {
      for (;;) {
        const answer = (await ask(`${message} (${defaultValue}): `)).trim() || defaultValue;
        const problem = validate?.(answer);
        if (problem === undefined) return answer;
        output.write(`  ${problem}\n`);
      }
    },

    /**
     * Pick one of `choices` by number or by name; an empty answer takes the first.
     * @param {string} message
     * @param {Array<{ value: string, hint?: string }>} choices
     * @returns {Promise<string>}
     */
    async select(message, choices) {
      output.write(`${message}\n`);
      const width = Math.max(...choices.map((choice) => choice.value.length));
      choices.forEach((choice, index) => output.write(`  ${index + 1}) ${choice.value.padEnd(width)}${choice.hint ? `  ${choice.hint}` : ""}\n`.replace(/ +\n$/, "\n")));
      for (;;) {
        const answer = (await ask(`Choose 1-${choices.length} (1): `)).trim();
        if (answer === "") return /** @type {string} */ (choices[0]?.value);
        const byNumber = /^\d+$/.test(answer) ? choices[Number(answer) - 1] : undefined;
        const chosen = byNumber ?? choices.find((choice) => choice.value === answer);
        if (chosen) return chosen.value;
        output.write(`  Type a number from 1 to ${choices.length} or a template name.\n`);
      }
    },

    /**
     * Ask a yes/no question; only `y`/`yes` is yes, so Enter means no.
     * @param {string} message
     * @returns {Promise<boolean>}
     */
    async confirm(message) {
      const answer = (await ask(`${message} (y/N): `)).trim().toLowerCase();
      return answer === "y" || answer === "yes";
    },

    /** Release the terminal; safe to call more than once. */
    close() {
      if (closed) return;
      closed = true;
      rl.removeAllListeners("close");
      rl.close();
    },
  };
}
