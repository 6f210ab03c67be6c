/**
 * The HTML page of the dashboard (`GET /`): live tiles and two line charts
 * drawn on <canvas> by a few dozen lines of script, fed by EventSource on
 * `/metrics`. Nothing is loaded from outside the server.
 */

/**
 * The dashboard page.
 * @param intervalMs - the sampling interval, shown on the page.
 * @example Response.html(dashboardPage(1000))
 */
export function dashboardPage(intervalMs: number): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- No icon to fetch: without this line the browser asks for /favicon.ico and logs a 404. -->
  <link rel="icon" href="data:,">
  <title>Cello.ts Dashboard</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 1000px; color: #222; background: #fafafa; }
    .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 16px 0; }
    .tile { background: #fff; border: 1px solid #e0e0e0; border-radius: 8px; padding: 10px 12px; }
    .tile .label { color: #666; font-size: .8rem; }
    .tile .value { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
    .chart { background: #fff; border: 1px solid #e0e0e0; border-radius: 8px; padding: 10px 12px; margin-bottom: 16px; }
    .chart h2 { font-size: 1rem; margin: 0 0 6px; }
    canvas { width: 100%; height: 200px; display: block; }
    .status { font-size: .85rem; padding: 4px 8px; border-radius: 4px; background: #fff8e1; }
    .status[data-state="open"] { background: #e8f5e9; color: #2e7d32; }
    .meta { color: #666; font-size: .85rem; }
  </style>
</head>
<body>
  <h1>Process Dashboard</h1>
  <p><span class="status" id="status" data-state="connecting">connecting</span>
     <span class="meta">points received: <span id="points" data-count="0">0</span>, one every ${Number(intervalMs)} ms</span></p>
  <div class="tiles">
    <div class="tile"><div class="label">CPU (this process)</div><div class="value" id="cpu">-</div></div>
    <div class="tile"><div class="label">RSS</div><div class="value" id="rss">-</div></div>
    <div class="tile"><div class="label">Heap used / total</div><div class="value" id="heap">-</div></div>
    <div class="tile"><div class="label">Load average (1/5/15 min)</div><div class="value" id="load">-</div></div>
    <div class="tile"><div class="label">Free memory</div><div class="value" id="free">-</div></div>
    <div class="tile"><div class="label">Event-loop delay p99</div><div class="value" id="loop">-</div></div>
    <div class="tile"><div class="label">Open streams (this app)</div><div class="value" id="streams">-</div></div>
    <div class="tile"><div class="label">Events / bytes sent (this app)</div><div class="value" id="sent">-</div></div>
    <div class="tile"><div class="label">HTTP requests (this app)</div><div class="value" id="requests">-</div></div>
  </div>
  <div class="chart"><h2>CPU % and event-loop delay p99 (ms)</h2><canvas id="cpu-chart"></canvas></div>
  <div class="chart"><h2>Memory (MB)</h2><canvas id="memory-chart"></canvas></div>
  <script>
    const MAX_POINTS = 120;
    const samples = [];
    const mb = (bytes) => bytes / 1048576;
    const $ = (id) => document.getElementById(id);
    const charts = [
      { canvas: $("cpu-chart"), series: [
        { label: "CPU %", color: "#1565c0", value: (s) => s.cpuPercent },
        { label: "loop p99 ms", color: "#ef6c00", value: (s) => s.eventLoopDelay.p99 },
      ] },
      { canvas: $("memory-chart"), series: [
        { label: "RSS", color: "#6a1b9a", value: (s) => mb(s.memory.rss) },
        { label: "heap used", color: "#2e7d32", value: (s) => mb(s.memory.heapUsed) },
        { label: "heap total", color: "#9e9e9e", value: (s) => mb(s.memory.heapTotal) },
      ] },
    ];

    // A "nice" axis maximum (1, 2 or 5 times a power of ten) so grid labels read well.
    function niceMax(value) {
      if (!(value > 0)) return 1;
      const power = Math.pow(10, Math.floor(Math.log10(value)));
      for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
      return 10 * power;
    }

    function draw(chart) {
      const canvas = chart.canvas;
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth, height = canvas.clientHeight;
      if (canvas.width !== Math.round(width * ratio)) { canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio); }
      const ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, width, height);
      const left = 44, right = 8, top = 22, bottom = 18;
      const plotW = width - left - right, plotH = height - top - bottom;
      let max = 0;
      for (const s of chart.series) for (const sample of samples) max = Math.max(max, s.value(sample));
      max = niceMax(max * 1.1);
      ctx.font = "11px system-ui, sans-serif";
      ctx.textBaseline = "middle";
      for (let i = 0; i <= 4; i++) {
        const y = top + plotH - (plotH * i) / 4;
        ctx.strokeStyle = "#eeeeee"; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + plotW, y); ctx.stroke();
        ctx.fillStyle = "#777"; ctx.textAlign = "right";
        ctx.fillText(String(Math.round((max * i) / 4 * 100) / 100), left - 6, y);
      }
      const x = (i) => left + (samples.length <= 1 ? plotW : (plotW * i) / (MAX_POINTS - 1));
      const y = (v) => top + plotH - (plotH * v) / max;
      let legendX = left;
      for (const s of chart.series) {
        ctx.strokeStyle = s.color; ctx.lineWidth = 2;
        ctx.beginPath();
        samples.forEach((sample, i) => (i === 0 ? ctx.moveTo(x(i), y(s.value(sample))) : ctx.lineTo(x(i), y(s.value(sample)))));
        ctx.stroke();
        const last = samples[samples.length - 1];
        const text = s.label + (last ? ": " + s.value(last).toFixed(1) : "");
        ctx.fillStyle = s.color; ctx.textAlign = "left";
        ctx.fillRect(legendX, 6, 10, 10);
        ctx.fillText(text, legendX + 14, 11);
        legendX += ctx.measureText(text).width + 30;
      }
      ctx.fillStyle = "#777"; ctx.textAlign = "right";
      ctx.fillText(samples.length + " points", left + plotW, height - 8);
    }

    function show(sample) {
      $("cpu").textContent = sample.cpuPercent.toFixed(1) + " %";
      $("rss").textContent = mb(sample.memory.rss).toFixed(1) + " MB";
      $("heap").textContent = mb(sample.memory.heapUsed).toFixed(1) + " / " + mb(sample.memory.heapTotal).toFixed(1) + " MB";
      $("load").textContent = sample.loadAverage.map((n) => n.toFixed(2)).join(" / ");
      $("free").textContent = (sample.os.freeMemory / 1073741824).toFixed(2) + " GB";
      $("loop").textContent = sample.eventLoopDelay.p99.toFixed(2) + " ms";
      if (sample.app) {
        $("streams").textContent = String(sample.app.openStreams);
        $("sent").textContent = sample.app.eventsSent + " / " + (sample.app.bytesSent / 1024).toFixed(1) + " KB";
        $("requests").textContent = String(sample.app.httpRequests);
      }
    }

    const points = $("points");
    const status = $("status");
    const setStatus = (state) => { status.dataset.state = state; status.textContent = state; };
    let frame = 0;
    const source = new EventSource("/metrics");
    source.onopen = () => setStatus("open");
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    source.addEventListener("metrics", (event) => {
      const sample = JSON.parse(event.data);
      samples.push(sample);
      if (samples.length > MAX_POINTS) samples.shift();
      const count = Number(points.dataset.count) + 1;
      points.dataset.count = String(count);
      points.textContent = String(count);
      show(sample);
      // A backfill arrives as a burst: draw once per animation frame, not once per event.
      if (!frame) frame = requestAnimationFrame(() => { frame = 0; charts.forEach(draw); });
    });
    window.addEventListener("resize", () => charts.forEach(draw));
    charts.forEach(draw);
  </script>
</body>
</html>
`;
}
