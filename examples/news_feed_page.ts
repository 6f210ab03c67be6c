/**
 * The HTML page of the news feed (`GET /`): headlines, newest first, from
 * EventSource on `/feed`. It shows the connection state and how often the
 * browser reconnected; the browser itself resends the last event id, so the
 * list never has a gap or a duplicate. Nothing is loaded from outside the server.
 */
/**
 * The news feed page's HTML.
 * @example app.get("/", () => Response.html(newsPage));
 */
export const newsPage = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- No icon to fetch: without this line the browser asks for /favicon.ico and logs a 404. -->
  <link rel="icon" href="data:,">
  <title>Cello.ts News Feed</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 720px; color: #222; }
    .status { font-size: .85rem; padding: 4px 8px; border-radius: 4px; background: #fff8e1; color: #8d6e00; }
    .status[data-state="open"] { background: #e8f5e9; color: #2e7d32; }
    .meta { color: #666; font-size: .85rem; }
    ol { list-style: none; padding: 0; }
    li { border-bottom: 1px solid #eee; padding: 8px 0; }
    li .category { display: inline-block; min-width: 72px; font-size: .75rem; text-transform: uppercase; color: #1565c0; }
    li time { float: right; color: #888; font-size: .8rem; }
    #notice { background: #fff3e0; padding: 8px; border-radius: 4px; }
    #notice:empty { display: none; }
  </style>
</head>
<body>
  <h1>News Feed</h1>
  <p><span class="status" id="status" data-state="connecting">connecting</span>
     <span class="meta">last event id: <code id="last-id">none</code>, reconnects: <span id="reconnects" data-count="0">0</span></span></p>
  <p id="notice"></p>
  <ol id="headlines"></ol>
  <script>
    const $ = (id) => document.getElementById(id);
    const status = $("status"), list = $("headlines"), reconnects = $("reconnects");
    const setStatus = (state) => { status.dataset.state = state; status.textContent = state; };
    let opened = 0;
    const source = new EventSource("/feed");
    source.onopen = () => {
      setStatus("open");
      if (opened++ > 0) {
        reconnects.dataset.count = String(opened - 1);
        reconnects.textContent = String(opened - 1);
      }
    };
    // While the server is away EventSource keeps retrying (readyState CONNECTING) and
    // sends Last-Event-ID when it gets back: nothing to do here but say so.
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    source.addEventListener("headline", (event) => {
      const headline = JSON.parse(event.data);
      const item = document.createElement("li");
      item.dataset.id = event.lastEventId;
      const category = document.createElement("span");
      category.className = "category";
      category.textContent = headline.category;
      const time = document.createElement("time");
      time.dateTime = headline.published_at;
      time.textContent = new Date(headline.published_at).toLocaleTimeString();
      const title = document.createElement("span");
      title.className = "title";
      title.textContent = headline.title;
      item.append(time, category, title);
      list.prepend(item);
      $("last-id").textContent = event.lastEventId;
    });
    // The server no longer holds what we asked to resume from: say that some headlines were missed.
    source.addEventListener("reset", () => {
      $("notice").textContent = "Some headlines were missed while you were away.";
    });
  </script>
</body>
</html>
`;
