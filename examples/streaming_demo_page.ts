/**
 * The HTML page of the streaming demo (`GET /demo`): one panel per SSE
 * endpoint, each fed by the browser's own EventSource. Nothing is loaded from
 * outside the server.
 */
export const demoPage = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Cello.ts SSE Demo</title>
  <link rel="icon" href="data:,">
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 1000px; color: #222; }
    .panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 16px; }
    .panel { background: #f5f5f5; border-radius: 8px; padding: 12px; }
    .panel h2 { font-size: 1rem; margin: 0 0 8px; font-family: monospace; }
    .status { font-size: .85rem; padding: 4px 8px; border-radius: 4px; display: inline-block; }
    .status.open { background: #e8f5e9; color: #2e7d32; }
    .status.ended { background: #eceff1; color: #455a64; }
    .status.connecting { background: #fff8e1; color: #8d6e00; }
    ol { padding-left: 20px; font-family: monospace; font-size: .85rem; }
    li { margin: 3px 0; word-break: break-all; }
    li b { color: #1565c0; }
    button { background: #1976d2; color: #fff; border: 0; border-radius: 4px; padding: 6px 12px; cursor: pointer; }
  </style>
</head>
<body>
  <h1>Cello.ts SSE Demo</h1>
  <p>Each panel below is a browser <code>EventSource</code> on one endpoint. <button id="reconnect">Reconnect all</button></p>
  <div class="panels" id="panels"></div>
  <script>
    const endpoints = {
      "/sse/events": ["message", "welcome", "update", "notification"],
      "/sse/counter": ["count", "complete"],
      "/sse/stock-ticker": ["ticker"],
    };
    const sources = [];

    function connect(path, types, panel) {
      const status = panel.querySelector(".status");
      const list = panel.querySelector("ol");
      list.textContent = "";
      status.className = "status connecting";
      status.textContent = "connecting";
      const es = new EventSource(path);
      sources.push(es);
      es.onopen = () => { status.className = "status open"; status.textContent = "open"; };
      // These streams are finite: when the server ends one, close instead of letting EventSource reconnect.
      es.onerror = () => { es.close(); status.className = "status ended"; status.textContent = "ended"; panel.dataset.ended = "true"; };
      for (const type of types) {
        es.addEventListener(type, (e) => {
          const item = document.createElement("li");
          const name = document.createElement("b");
          name.textContent = type;
          item.append(name, " " + e.data);
          item.dataset.event = type;
          list.append(item);
        });
      }
    }

    function connectAll() {
      while (sources.length) sources.pop().close();
      const panels = document.getElementById("panels");
      panels.textContent = "";
      for (const [path, types] of Object.entries(endpoints)) {
        const panel = document.createElement("section");
        panel.className = "panel";
        panel.dataset.endpoint = path;
        const title = document.createElement("h2");
        title.textContent = path;
        const status = document.createElement("span");
        status.className = "status";
        panel.append(title, status, document.createElement("ol"));
        panels.append(panel);
        connect(path, types, panel);
      }
    }

    document.getElementById("reconnect").addEventListener("click", connectAll);
    connectAll();
  </script>
</body>
</html>
`;
