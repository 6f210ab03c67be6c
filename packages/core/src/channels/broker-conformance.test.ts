// The ChannelBroker conformance suite of @cellojs/testing, on the in-memory broker:
// the same suite @cellojs/redis runs, and any other broker should.
import { runBrokerConformance } from "@cellojs/testing/conformance";
import { memoryBroker } from "./broker.js";

runBrokerConformance(() => memoryBroker(), { name: "memoryBroker" });
