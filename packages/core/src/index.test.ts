/**
 * The public surface of @cellojs/core, pinned: adding, removing or renaming an
 * export is a deliberate change to this list (and to docs/api.md, whose test
 * compares its headings with index.ts). Internals the package's own modules
 * share (toResponse, toRouterPath, parseFlags, statusText, the decorator
 * metadata readers...) are imported from their modules, never from here.
 */
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, test } from "vitest";

/** Every name a user can import as a value (what `import * as core` holds at run time). */
const VALUES = [
  "App",
  "Blueprint",
  "CHANNEL_HISTORY_DEFAULTS",
  "CelloError",
  "Channel",
  "ERROR_CODES",
  "HttpError",
  "Request",
  "Response",
  "SseEvent",
  "SseStream",
  "consoleLogger",
  "controller",
  "cors",
  "del",
  "formatSseComment",
  "formatSseFrame",
  "get",
  "head",
  "logging",
  "memoryBroker",
  "openapi",
  "options",
  "patch",
  "post",
  "put",
  "rateLimit",
  "route",
  "silentLogger",
];

/** Every name a user can import only as a type. */
const TYPES = [
  "AppOptions",
  "ChannelBroker",
  "ChannelEvent",
  "ChannelHistoryOptions",
  "ChannelMessage",
  "ChannelOptions",
  "CloseOptions",
  "ControllerDecorator",
  "CorsOptions",
  "ErrorCode",
  "FinishInfo",
  "Handler",
  "HookName",
  "Hooks",
  "HttpErrorOptions",
  "HttpMethod",
  "ListenOptions",
  "OpenapiOptions",
  "OpenapiUi",
  "OperationDocs",
  "LogRecord",
  "Logger",
  "LoggingOptions",
  "OverflowPolicy",
  "Plugin",
  "PublishOptions",
  "ReplayOptions",
  "ReplayResult",
  "ResetPayload",
  "ResponseBody",
  "ResponseInit",
  "RouteDecorator",
  "RouteInfo",
  "RouteOptions",
  "RateLimitOptions",
  "RateLimitPlugin",
  "RateLimitRule",
  "RateLimitStore",
  "RouteRateLimit",
  "StreamCaps",
  "StreamCounts",
  "TrustProxy",
  "ServerAddress",
  "SseCloseReason",
  "SseEventOptions",
  "SseOptions",
  "SseShutdownOptions",
  "SseSource",
  "SseStreamInfo",
  "SubscribeOptions",
];

describe("the public surface of @cellojs/core", () => {
  test("the values a user can import are exactly these", async () => {
    const core = await import("@cellojs/core");
    expect(Object.keys(core).sort()).toEqual([...VALUES].sort());
  });

  test("the types a user can import are exactly these", () => {
    // What TypeScript sees through the package's entry point: values (classes count
    // as both) and type-only exports, told apart by the symbol's meaning.
    const entry = fileURLToPath(new URL("./index.ts", import.meta.url));
    const program = ts.createProgram([entry], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      types: ["node"],
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
    const exported = checker.getExportsOfModule(module).map((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return { name: symbol.name, value: (target.flags & ts.SymbolFlags.Value) !== 0 };
    });
    expect(exported.filter((e) => e.value).map((e) => e.name).sort()).toEqual([...VALUES].sort());
    expect(exported.filter((e) => !e.value).map((e) => e.name).sort()).toEqual([...TYPES].sort());
  });
});
