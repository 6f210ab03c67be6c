/**
 * The HTML page of the LLM chat demo (`GET /`): a prompt, Send and Stop, and
 * the answer as it streams. It reads the event stream of `POST /chat` with
 * fetch (EventSource cannot POST), keeps the stream's id in sessionStorage
 * while the answer runs, and after a reload reads it again, from its first
 * event, from `GET /chat/streams/{id}`. Tokens are added as text, never as
 * HTML. Nothing is loaded from outside the server.
 */
/**
 * The chat page's HTML.
 * @example app.get("/", () => Response.html(chatPage));
 */
export const chatPage = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- No icon to fetch: without this line the browser asks for /favicon.ico and logs a 404. -->
  <link rel="icon" href="data:,">
  <title>Cello.ts LLM Chat</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 640px; color: #222; }
    form { display: flex; gap: 8px; }
    input { flex: 1; padding: 8px; font-size: 1rem; }
    button { background: #1976d2; color: #fff; border: 0; border-radius: 4px; padding: 8px 16px; cursor: pointer; font-size: 1rem; }
    button:disabled { background: #90a4ae; cursor: default; }
    #stop { background: #c62828; }
    #stop:disabled { background: #90a4ae; }
    #answer { white-space: pre-wrap; min-height: 6em; border: 1px solid #cfd8dc; border-radius: 4px; padding: 12px; margin-top: 16px; }
    .meta { color: #666; font-size: .85rem; }
  </style>
</head>
<body>
  <h1>Chat</h1>
  <form id="ask">
    <input id="prompt" name="prompt" placeholder="Ask the (fake) model" autocomplete="off" required>
    <button id="send">Send</button>
    <button id="stop" type="button" disabled>Stop</button>
  </form>
  <div id="answer" aria-live="polite"></div>
  <p class="meta">Status: <span id="status">idle</span> · tokens: <span id="tokens">0</span></p>
  <script>
    const $ = (id) => document.getElementById(id);
    const KEY = "chat-stream";
    let streamId;

    function busy(on) {
      $("send").disabled = on;
      $("stop").disabled = !on;
    }

    // Read an event stream from a fetch response: blocks split on a blank line, "event:" and "data:" fields.
    async function readEvents(res) {
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value.replace(/\\r\\n?/g, "\\n");
        let end;
        while ((end = buffer.indexOf("\\n\\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message", data = [];
          for (const line of block.split("\\n")) {
            if (line.startsWith("event:")) type = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (data.length > 0 && onEvent(type, data.join("\\n"))) return reader.cancel();
        }
      }
    }

    // True once the stream is over.
    function onEvent(type, data) {
      if (type === "message") {
        $("answer").append(document.createTextNode(data));
        $("tokens").textContent = String(Number($("tokens").textContent) + 1);
        return false;
      }
      if (type === "end") {
        sessionStorage.removeItem(KEY);
        $("status").textContent = JSON.parse(data).reason;
        busy(false);
        return true;
      }
      return false;
    }

    async function follow(res) {
      if (!res.ok) {
        sessionStorage.removeItem(KEY);
        $("status").textContent = "error " + res.status;
        busy(false);
        return;
      }
      $("status").textContent = "streaming";
      await readEvents(res);
    }

    $("ask").addEventListener("submit", async (event) => {
      event.preventDefault();
      busy(true);
      $("answer").textContent = "";
      $("tokens").textContent = "0";
      const res = await fetch("/chat", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ prompt: $("prompt").value }),
      });
      streamId = res.headers.get("cello-stream-id");
      if (streamId) sessionStorage.setItem(KEY, streamId);
      await follow(res);
    });

    $("stop").addEventListener("click", async () => {
      $("stop").disabled = true;
      // The stream then ends with {"reason":"stopped"}.
      if (streamId) await fetch("/chat/streams/" + encodeURIComponent(streamId), { method: "DELETE" });
    });

    // After a reload: read the running answer again, from its first token.
    streamId = sessionStorage.getItem(KEY);
    if (streamId) {
      busy(true);
      $("status").textContent = "resuming";
      fetch("/chat/streams/" + encodeURIComponent(streamId), { headers: { accept: "text/event-stream" } }).then(follow);
    }
  </script>
</body>
</html>
`;
