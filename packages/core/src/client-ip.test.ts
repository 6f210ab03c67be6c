import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { addressKey, type TrustProxy } from "./client-ip.js";
import { celloErrorOf, startWithCleanup } from "./testing.js";

const start = startWithCleanup();

async function ipApp(trustProxy?: TrustProxy) {
  const app = new App({ trustProxy });
  app.get("/ip", (req) => ({ ip: req.ip }));
  return start(app);
}

async function ipFor(client: Awaited<ReturnType<typeof ipApp>>, xff?: string): Promise<string> {
  const res = await client.get("/ip", { headers: xff === undefined ? {} : { "X-Forwarded-For": xff } });
  expect(res.status).toBe(200);
  return res.json.ip;
}

describe("request.ip", () => {
  it("is the socket's peer by default, whatever X-Forwarded-For says", async () => {
    const client = await ipApp();
    expect(await ipFor(client)).toBe("127.0.0.1");
    expect(await ipFor(client, "6.6.6.6")).toBe("127.0.0.1");
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    const client = await ipApp(["10.0.0.0/8"]);
    expect(await ipFor(client, "6.6.6.6")).toBe("127.0.0.1");
  });

  it("reads X-Forwarded-For right to left from a trusted proxy, stopping at the first untrusted hop", async () => {
    const client = await ipApp(["127.0.0.1", "10.0.0.0/8"]);
    expect(await ipFor(client, "203.0.113.7")).toBe("203.0.113.7");
    // The client wrote 6.6.6.6 itself; our proxies appended 198.51.100.2 (what they saw) and 10.1.2.3.
    expect(await ipFor(client, "6.6.6.6, 198.51.100.2, 10.1.2.3")).toBe("198.51.100.2");
    expect(await ipFor(client, "2001:db8::1")).toBe("2001:db8::1");
    // proxy-addr's names work, and a function decides per hop.
    expect(await ipFor(await ipApp(["loopback"]), "203.0.113.9")).toBe("203.0.113.9");
    expect(await ipFor(await ipApp((address, hop) => hop === 0 && address === "127.0.0.1"), "1.1.1.1, 2.2.2.2")).toBe("2.2.2.2");
  });

  it("never takes garbage for an address: an entry that is not an IP ends the walk at the hop that sent it", async () => {
    const client = await ipApp(() => true);
    for (const hostile of ["garbage", "<script>alert(1)</script>", "1.2.3.4:80", "unknown", "_hidden", ",,,", " ", "999.1.1.1", "1.2.3.4, evil"]) {
      expect(await ipFor(client, hostile)).toBe("127.0.0.1");
    }
    // Garbage to the left of real hops cannot replace them.
    expect(await ipFor(client, "evil, 203.0.113.7")).toBe("203.0.113.7");
  });

  it("handles a header as long as Node accepts, and Node answers 431 beyond", async () => {
    const client = await ipApp(() => true);
    const long = Array.from({ length: 1100 }, (_, i) => `10.0.${i % 256}.${i % 200}`).join(", ");
    expect(long.length).toBeGreaterThan(12_000);
    const started = performance.now();
    expect(await ipFor(client, long)).toBe("10.0.0.0");
    expect(performance.now() - started).toBeLessThan(2000);
    const tooLong = await client.get("/ip", { headers: { "X-Forwarded-For": "1.1.1.1, ".repeat(4000) } });
    expect(tooLong.status).toBe(431);
  });

  it("gives IPv4-mapped IPv6 peers as IPv4", async () => {
    const app = new App();
    app.get("/ip", (req) => req.ip);
    const { port } = await app.listen({ host: "::", port: 0 }).catch(() => ({ port: 0 }));
    if (port === 0) return; // no IPv6 on this machine: nothing to map
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port }, () => socket.write("GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        let received = "";
        socket.on("data", (chunk) => (received += chunk));
        socket.on("end", () => resolve(received));
        socket.on("error", reject);
      });
      expect(text.endsWith("\r\n\r\n127.0.0.1")).toBe(true);
    } finally {
      await app.close();
    }
  });

  it("refuses a trustProxy it cannot compile, at construction", () => {
    expect(celloErrorOf(() => new App({ trustProxy: ["not-an-ip"] })).message).toMatch(/^Invalid option: trustProxy: invalid IP address: not-an-ip/);
    expect(celloErrorOf(() => new App({ trustProxy: ["10.0.0.0/99"] })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => new App({ trustProxy: "127.0.0.1" as never })).message).toMatch(/trustProxy must be false, a list/);
    expect(celloErrorOf(() => new App({ trustProxy: [42] as never })).code).toBe("CELLO_INVALID_OPTION");
  });
});

describe("addressKey (what rate limits count an address under)", () => {
  it("keeps IPv4 as it is and groups IPv6 by its /64", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("")).toBe("");
    expect(addressKey("2001:db8:0:1::1")).toBe("2001:db8:0:1::/64");
    expect(addressKey("2001:0db8:0000:0001:ffff:ffff:ffff:ffff")).toBe("2001:db8:0:1::/64");
    expect(addressKey("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("::")).toBe("0:0:0:0::/64");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(addressKey("64:ff9b::192.0.2.1")).toBe("64:ff9b:0:0::/64");
    expect(addressKey("1:2:3:4:5:6:7:8")).toBe("1:2:3:4::/64");
    expect(addressKey("1:2:3::4:5:6:7")).toBe("1:2:3:0::/64");
  });
});
