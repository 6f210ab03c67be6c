import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { CelloError } from "./errors.js";
import { Response, type ResponseInit } from "./response.js";
import { celloErrorOf as thrown, recordingLogger, startWithCleanup } from "./testing.js";

const start = startWithCleanup();


describe("Response.json/text/html: a status number as the second argument", () => {
  it("sends the status over a real socket, with the usual content type and body", async () => {
    const app = new App();
    app.get("/json", () => Response.json({ error: "sign in first" }, 401));
    app.get("/text", () => Response.text("not here", 404));
    app.get("/html", () => Response.html("<h1>Gone</h1>", 410));
    app.get("/binary", () => Response.binary(new Uint8Array([1, 2]), "application/x-demo", 202));
    app.get("/object", () => Response.json({ queued: true }, { status: 202, headers: { "Retry-After": "5" } }));
    const client = await start(app);
    const json = await client.get("/json");
    expect([json.status, json.headers["content-type"], json.text]).toEqual([401, "application/json", '{"error":"sign in first"}']);
    const text = await client.get("/text");
    expect([text.status, text.headers["content-type"], text.text]).toEqual([404, "text/plain; charset=utf-8", "not here"]);
    const html = await client.get("/html");
    expect([html.status, html.headers["content-type"], html.text]).toEqual([410, "text/html; charset=utf-8", "<h1>Gone</h1>"]);
    const binary = await client.get("/binary");
    expect([binary.status, binary.headers["content-type"]]).toEqual([202, "application/x-demo"]);
    const object = await client.get("/object");
    expect([object.status, object.headers["retry-after"], object.json]).toEqual([202, "5", { queued: true }]);
  });

  it("answers 500 (never a silent 200) for an init it does not understand, and logs what was wrong", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/typo", () => Response.json({ error: "nope" }, { statsu: 401 } as unknown as ResponseInit));
    const client = await start(app);
    const res = await client.get("/typo");
    expect([res.status, res.json]).toEqual([500, { error: "Internal Server Error", status: 500 }]);
    const [message, err] = logger.errors[0]!;
    expect(message).toBe("Unhandled error in GET /typo");
    expect((err as CelloError).message).toBe(
      'Invalid option: unknown response option "statsu": pass a status number (Response.json(data, 401)) or { status?, headers? }',
    );
  });
});

describe("Response init checks", () => {
  it.each([
    ["a status as a string", "401", 'Invalid option: a response init must be a status number or { status?, headers? }, got "401"'],
    ["null", null, "Invalid option: a response init must be a status number or { status?, headers? }, got null"],
    ["an array", [401], "Invalid option: a response init must be a status number or { status?, headers? }, got an array"],
    ["a misspelt key", { statusCode: 401 }, 'Invalid option: unknown response option "statusCode": pass a status number (Response.json(data, 401)) or { status?, headers? }'],
    ["a string status inside the object", { status: "401" }, 'Invalid option: status must be an integer from 100 to 599, got "401"'],
    ["a status out of range", 4010, "Invalid option: status must be an integer from 100 to 599, got 4010"],
    ["headers as a fetch Headers", { headers: new Headers({ "X-A": "1" }) }, "Invalid option: response headers must be a plain object of name: value, got a Headers"],
    ["headers as an array", { headers: [["X-A", "1"]] }, "Invalid option: response headers must be a plain object of name: value, got an array"],
  ])("refuses %s with CELLO_INVALID_OPTION naming it", (_what, init, message) => {
    for (const build of [Response.json, Response.text, Response.html] as const) {
      const err = thrown(() => build.call(Response, "x", init as unknown as ResponseInit));
      expect([err.code, err.message]).toEqual(["CELLO_INVALID_OPTION", message]);
    }
  });

  it("keeps a caller's content type and accepts an explicit undefined", () => {
    expect(Response.json(1, { headers: { "content-type": "application/problem+json" } }).getHeader("Content-Type")).toBe("application/problem+json");
    expect(Response.text("x", undefined).status).toBe(200);
    expect(Response.json(1, { status: undefined, headers: undefined }).status).toBe(200);
  });
});
