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
  "And",
  "App",
  "Authenticated",
  "Blueprint",
  "CHANNEL_HISTORY_DEFAULTS",
  "CelloError",
  "Channel",
  "DIAGNOSTICS_CHANNELS",
  "ERROR_CODES",
  "Html",
  "HttpError",
  "Not",
  "Or",
  "PermissionGuard",
  "Request",
  "Response",
  "ResumableStreams",
  "RoleGuard",
  "SseEvent",
  "SseStream",
  "compression",
  "consoleLogger",
  "escapeHtml",
  "controller",
  "cors",
  "del",
  "formatSseComment",
  "formatSseFrame",
  "get",
  "head",
  "healthChecks",
  "html",
  "logging",
  "memoryBroker",
  "openapi",
  "openaiChatStream",
  "metrics",
  "options",
  "patch",
  "post",
  "put",
  "rateLimit",
  "route",
  "silentLogger",
  "uiMessageStream",
  "unsafeHtml",
];

/** Every name a user can import only as a type. */
const TYPES = [
  "AppOptions",
  "ChannelAccessDefault",
  "ChannelAuthorizer",
  "AuthenticatedOptions",
  "BlueprintOptions",
  "AppState",
  "BrokerStateMessage",
  "BrokerStatus",
  "ChannelBroker",
  "ChannelDeliverMessage",
  "ChannelEvent",
  "ChannelHistoryOptions",
  "ChannelMessage",
  "ChannelOptions",
  "ChannelPattern",
  "ChannelSelector",
  "ChannelPublishMessage",
  "ChannelReplayMessage",
  "ChannelResetMessage",
  "CloseOptions",
  "CompressionOptions",
  "ContentEncoder",
  "ControllerDecorator",
  "ControllerOptions",
  "CorsOptions",
  "ErrorCode",
  "FinishInfo",
  "Guard",
  "GuardResult",
  "GuardSecurity",
  "Handler",
  "HealthCheck",
  "HealthCheckOptions",
  "HookName",
  "Hooks",
  "HtmlValue",
  "HttpErrorOptions",
  "HttpMethod",
  "HttpResponseMessage",
  "LifecycleEvent",
  "ListenOptions",
  "OpenapiOptions",
  "OpenapiUi",
  "OperationDocs",
  "LogRecord",
  "Logger",
  "LoggingOptions",
  "MetricsOptions",
  "MetricsRegistry",
  "NotAcceptableProblem",
  "OpenAIChatChunk",
  "OpenAIChatStreamOptions",
  "OpenAIFinishReason",
  "OpenAIUsage",
  "OverflowPolicy",
  "PermissionGuardOptions",
  "Plugin",
  "Principal",
  "PublishOptions",
  "PublishedMessage",
  "ReplayOptions",
  "ReplayResult",
  "ResetPayload",
  "ResponseBody",
  "ResponseInit",
  "ResumableStreamsOptions",
  "RoleGuardOptions",
  "RouteDecorator",
  "RouteInfo",
  "RouteOptions",
  "RouteSchema",
  "RunOptions",
  "RateLimitOptions",
  "RateLimitPlugin",
  "RateLimitRule",
  "RateLimitStore",
  "RouteRateLimit",
  "StreamCaps",
  "StreamEndReason",
  "StreamProducer",
  "StreamCounts",
  "TrustProxy",
  "ServerAddress",
  "SseCloseMessage",
  "SseCloseReason",
  "SseDeadlineReason",
  "SseDropMessage",
  "SseEventOptions",
  "SseHeartbeatMessage",
  "SseOpenMessage",
  "SseOptions",
  "SseShutdownOptions",
  "SseSource",
  "SseStreamInfo",
  "StreamEndOptions",
  "SseWriteMessage",
  "SubscribeOptions",
  "UIMessageChunkObject",
  "UIMessageFinishReason",
  "UIMessageStreamOptions",
  "Validated",
  "ValidatedRequest",
  "ValidationIssue",
  "ValidationOptions",
  "ValidationProblem",
  "VerifiedCredential",
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
