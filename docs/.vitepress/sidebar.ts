/**
 * The sidebar and the nav bar, kept apart from config.ts so the docs test can
 * check that every page they link to exists without loading VitePress.
 */
export interface SidebarItem {
  text: string;
  link?: string;
  items?: SidebarItem[];
  collapsed?: boolean;
}

/** Every section of the guide, in reading order. Links are site paths without `.md`. */
export const sidebar: SidebarItem[] = [
  {
    text: "Introduction",
    items: [
      { text: "Getting started", link: "/guide/getting-started" },
      { text: "Migrating from Cello", link: "/guide/migrating-from-cello" },
    ],
  },
  {
    text: "Essentials",
    items: [
      { text: "Routing", link: "/guide/routing" },
      { text: "Requests and responses", link: "/guide/request-response" },
      { text: "Validation", link: "/guide/validation" },
      { text: "Errors", link: "/guide/errors" },
      { text: "Security", link: "/guide/security" },
      { text: "Guards", link: "/guide/guards" },
      { text: "OpenAPI", link: "/guide/openapi" },
    ],
  },
  {
    text: "Real-time",
    items: [
      { text: "Server-Sent Events", link: "/guide/sse" },
      { text: "Heartbeats, backpressure, shutdown", link: "/guide/sse-operations" },
      { text: "Channels", link: "/guide/channels" },
      { text: "Scaling with Redis", link: "/guide/scaling-redis" },
      { text: "Scaling with PostgreSQL", link: "/guide/scaling-postgres" },
      { text: "Streaming LLM output", link: "/guide/streaming-llm" },
      { text: "Resumable streams", link: "/guide/resumable-streams" },
      { text: "Client library", link: "/guide/client" },
      { text: "POST streams and cancellation", link: "/guide/post-streams" },
      { text: "OpenAI chat streams", link: "/guide/openai-streams" },
      { text: "AI SDK UI message streams", link: "/guide/ai-sdk-streams" },
      { text: "HTML fragments and htmx", link: "/guide/htmx" },
      { text: "MCP servers", link: "/guide/mcp" },
    ],
  },
  {
    text: "Operations",
    items: [
      { text: "Rate limits and stream caps", link: "/guide/rate-limits" },
      { text: "Metrics", link: "/guide/metrics" },
      { text: "Health checks and load balancers", link: "/guide/health" },
      { text: "Compression", link: "/guide/compression" },
      { text: "Workers and reload", link: "/guide/workers" },
    ],
  },
  {
    text: "Going further",
    items: [
      { text: "Plugins and hooks", link: "/guide/plugins" },
      { text: "Testing", link: "/guide/testing" },
      { text: "Deployment", link: "/guide/deployment" },
      { text: "Benchmarks", link: "/benchmarks" },
    ],
  },
  {
    text: "Reference",
    items: [{ text: "API reference", link: "/api" }],
  },
];

/** The top navigation bar. */
export const nav: Array<{ text: string; link: string }> = [
  { text: "Guide", link: "/guide/getting-started" },
  { text: "SSE", link: "/guide/sse" },
  { text: "API", link: "/api" },
  { text: "Benchmarks", link: "/benchmarks" },
];
