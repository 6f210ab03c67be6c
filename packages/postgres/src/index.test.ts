// The public surface of @cellojs/postgres, pinned: a new export is a decision, not an accident.
import { expect, it } from "vitest";
import * as postgres from "./index.js";

it("exports exactly the broker, its error, redactUrl and compareIds", () => {
  expect(Object.keys(postgres).sort()).toEqual(["BrokerUnavailableError", "compareIds", "postgresBroker", "redactUrl"]);
});
