import { describe, expect, it } from "vitest";
import { redactUrl } from "./connection.js";

describe("redactUrl", () => {
  it("masks the password and keeps the rest", () => {
    expect(redactUrl("redis://user:pw@10.0.0.5:6380/2")).toBe("redis://user:***@10.0.0.5:6380/2");
    expect(redactUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redactUrl("not a url")).toBe("(unparsable Redis URL)");
  });
});
