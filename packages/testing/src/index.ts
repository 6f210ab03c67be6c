/**
 * @cellojs/testing: test a Cello.ts app over a real socket.
 * @packageDocumentation
 */
export {
  TestClient,
  type ReceivedEvent,
  type RequestOptions,
  type SseEndReason,
  type SseHandle,
  type SseRequestOptions,
  type SseResult,
  type TestResponse,
} from "./test-client.js";
