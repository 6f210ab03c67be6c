/**
 * The HTML page of the stock ticker (`GET /`): a table that the browser's
 * EventSource on `/stocks` keeps live. Nothing is loaded from outside the server.
 */

/**
 * Escape text for HTML element content and double-quoted attributes.
 * @example escapeHtml('<b title="x">') // "&#60;b title=&#34;x&#34;&#62;"
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The page, with one row per symbol showing its price when the page was served.
 * @param prices - symbol -> current price.
 * @example Response.html(stockPage({ AAPL: 189.5 }))
 */
export function stockPage(prices: Record<string, number>): string {
  const rows = Object.entries(prices)
    .map(
      ([symbol, price]) =>
        `<tr data-symbol="${escapeHtml(symbol)}"><th>${escapeHtml(symbol)}</th><td class="price">${price.toFixed(2)}</td><td class="change">-</td><td class="updated">-</td></tr>`,
    )
    .join("\n        ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- No icon to fetch: without this line the browser asks for /favicon.ico and logs a 404. -->
  <link rel="icon" href="data:,">
  <title>Cello.ts Stock Ticker</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 720px; color: #222; }
    table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
    th, td { padding: 8px 12px; border-bottom: 1px solid #e0e0e0; text-align: right; }
    th:first-child, tbody th { text-align: left; }
    tbody th { font-family: monospace; font-size: 1.05rem; }
    td.up { color: #2e7d32; }
    td.down { color: #c62828; }
    tr.flash td.price { background: #fff8e1; }
    td.price { transition: background .4s; }
    .status { font-size: .85rem; padding: 4px 8px; border-radius: 4px; background: #fff8e1; }
    .status[data-state="open"] { background: #e8f5e9; color: #2e7d32; }
    .meta { color: #666; font-size: .85rem; }
  </style>
</head>
<body>
  <h1>Stock Ticker</h1>
  <p><span class="status" id="status" data-state="connecting">connecting</span>
     <span class="meta">ticks received: <span id="ticks" data-count="0">0</span></span></p>
  <table>
    <thead><tr><th>Symbol</th><th>Price</th><th>Change</th><th>Updated</th></tr></thead>
    <tbody>
        ${rows}
    </tbody>
  </table>
  <p class="meta">Prices are a random walk published through one channel: <code>GET /stocks</code>.</p>
  <script>
    const status = document.getElementById("status");
    const ticks = document.getElementById("ticks");
    const setStatus = (state) => { status.dataset.state = state; status.textContent = state; };
    const source = new EventSource("/stocks");
    source.onopen = () => setStatus("open");
    // EventSource reconnects by itself (with Last-Event-ID): say so while it does.
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    source.addEventListener("tick", (event) => {
      const tick = JSON.parse(event.data);
      const row = document.querySelector('tr[data-symbol="' + CSS.escape(tick.symbol) + '"]');
      if (!row) return;
      row.querySelector(".price").textContent = tick.price.toFixed(2);
      const change = row.querySelector(".change");
      change.textContent = (tick.change >= 0 ? "+" : "") + tick.change.toFixed(2);
      change.className = "change " + (tick.change > 0 ? "up" : tick.change < 0 ? "down" : "");
      row.querySelector(".updated").textContent = new Date(tick.time).toLocaleTimeString();
      row.classList.add("flash");
      setTimeout(() => row.classList.remove("flash"), 300);
      const count = Number(ticks.dataset.count) + 1;
      ticks.dataset.count = String(count);
      ticks.textContent = String(count);
    });
  </script>
</body>
</html>
`;
}
