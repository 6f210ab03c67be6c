/**
 * The HTML page of the deploy demo (`GET /`): a Deploy button, a progress bar
 * and a log, fed by EventSource on `/deploy/{deploy_id}/progress`. Nothing is
 * loaded from outside the server.
 */
/**
 * The deploy page's HTML.
 * @example app.get("/", () => Response.html(deployPage));
 */
export const deployPage = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- No icon to fetch: without this line the browser asks for /favicon.ico and logs a 404. -->
  <link rel="icon" href="data:,">
  <title>Cello.ts Deploy Progress</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 640px; color: #222; }
    button { background: #1976d2; color: #fff; border: 0; border-radius: 4px; padding: 8px 16px; cursor: pointer; font-size: 1rem; }
    button:disabled { background: #90a4ae; cursor: default; }
    .track { background: #eceff1; border-radius: 6px; height: 22px; overflow: hidden; margin: 16px 0 6px; }
    .bar { background: #1976d2; height: 100%; width: 0; transition: width .3s; }
    .bar[data-state="done"] { background: #2e7d32; }
    .line { display: flex; justify-content: space-between; font-variant-numeric: tabular-nums; }
    ol { font-family: monospace; font-size: .85rem; color: #455a64; }
    .meta { color: #666; font-size: .85rem; }
  </style>
</head>
<body>
  <h1>Deploy</h1>
  <p><button id="deploy">Deploy</button> <span class="meta" id="deploy-id"></span></p>
  <div class="track"><div class="bar" id="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0" data-state="idle"></div></div>
  <div class="line"><span id="step">Press Deploy to start</span><span id="percent">0%</span></div>
  <ol id="log"></ol>
  <script>
    const $ = (id) => document.getElementById(id);
    const button = $("deploy"), bar = $("bar"), log = $("log");
    let source;

    function append(type, text) {
      const item = document.createElement("li");
      item.dataset.event = type;
      item.textContent = text;
      log.append(item);
    }

    button.addEventListener("click", async () => {
      button.disabled = true;
      log.textContent = "";
      bar.dataset.state = "running";
      const res = await fetch("/deploy", { method: "POST" });
      if (res.status !== 201) {
        append("error", "POST /deploy answered " + res.status);
        button.disabled = false;
        return;
      }
      const { deploy_id } = await res.json();
      $("deploy-id").textContent = deploy_id;
      // The id is a UUID from the server, but encode it anyway: it becomes part of a URL.
      source = new EventSource("/deploy/" + encodeURIComponent(deploy_id) + "/progress");
      source.addEventListener("progress", (event) => {
        const { percent, step } = JSON.parse(event.data);
        bar.style.width = percent + "%";
        bar.setAttribute("aria-valuenow", String(percent));
        $("percent").textContent = percent + "%";
        $("step").textContent = step;
        append("progress", percent + "% " + step);
      });
      source.addEventListener("done", (event) => {
        // The server ends the stream after "done": close, or EventSource would reconnect.
        source.close();
        bar.dataset.state = "done";
        append("done", "done: " + JSON.parse(event.data).status);
        button.disabled = false;
      });
    });
  </script>
</body>
</html>
`;
