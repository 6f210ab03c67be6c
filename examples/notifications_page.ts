/**
 * The HTML page of the notifications demo (`GET /`): sign in with a token
 * (`POST /login` sets an HttpOnly cookie), then EventSource on
 * `/notifications` carries the cookie and shows this user's notifications;
 * a form sends one to another user. Nothing is loaded from outside the server.
 */
/**
 * The notifications page's HTML.
 * @example app.get("/", () => Response.html(notificationsPage));
 */
export const notificationsPage = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- No icon to fetch: without this line the browser asks for /favicon.ico and logs a 404. -->
  <link rel="icon" href="data:,">
  <title>Cello.ts Notifications</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 640px; color: #222; }
    form { display: flex; gap: 8px; margin: 12px 0; }
    input { padding: 6px 8px; border: 1px solid #bbb; border-radius: 4px; }
    input[name="text"] { flex: 1; }
    button { background: #1976d2; color: #fff; border: 0; border-radius: 4px; padding: 6px 12px; cursor: pointer; }
    .status { font-size: .85rem; padding: 4px 8px; border-radius: 4px; background: #fff8e1; }
    .status[data-state="open"] { background: #e8f5e9; color: #2e7d32; }
    .meta { color: #666; font-size: .85rem; }
    ol { list-style: none; padding: 0; }
    li { border-bottom: 1px solid #eee; padding: 8px 0; }
    li b { color: #1565c0; }
    [hidden] { display: none !important; }
    #message:empty { display: none; }
    #message { color: #c62828; }
  </style>
</head>
<body>
  <h1>Notifications</h1>
  <section id="signed-out">
    <form id="login">
      <input name="token" placeholder="token, e.g. alice-secret" autocomplete="off" required>
      <button>Sign in</button>
    </form>
    <p class="meta">The demo's tokens are printed by the server when it starts.</p>
  </section>
  <section id="signed-in" hidden>
    <p>Signed in as <b id="user"></b> <span class="status" id="status" data-state="connecting">connecting</span>
       <button id="logout" type="button">Sign out</button></p>
    <form id="send">
      <input name="to" placeholder="to (user)" required size="8">
      <input name="text" placeholder="message" required maxlength="500">
      <button>Send</button>
    </form>
    <ol id="notifications"></ol>
  </section>
  <p id="message"></p>
  <script>
    const $ = (id) => document.getElementById(id);
    const list = $("notifications"), status = $("status");
    const setStatus = (state) => { status.dataset.state = state; status.textContent = state; };
    const say = (text) => { $("message").textContent = text; };
    let source;

    function signedIn(user) {
      $("user").textContent = user;
      $("signed-out").hidden = true;
      $("signed-in").hidden = false;
      list.textContent = "";
      // Same origin: the browser sends the HttpOnly token cookie with this request.
      source = new EventSource("/notifications");
      source.onopen = () => setStatus("open");
      source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
      // The sign-in expired: the server ends the stream; stop EventSource reconnecting with the old cookie.
      source.addEventListener("reauthenticate", () => {
        signedOut();
        say("Your session expired: sign in again.");
      });
      source.addEventListener("notification", (event) => {
        const notification = JSON.parse(event.data);
        const item = document.createElement("li");
        item.dataset.id = event.lastEventId;
        const from = document.createElement("b");
        from.textContent = notification.from;
        item.append(from, ": " + notification.text);
        list.prepend(item);
      });
    }

    function signedOut() {
      if (source) source.close();
      $("signed-in").hidden = true;
      $("signed-out").hidden = false;
    }

    $("login").addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = new FormData(event.target).get("token");
      const res = await fetch("/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
      const body = await res.json();
      if (res.ok) { say(""); signedIn(body.user); } else say(body.error);
    });

    $("send").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      const res = await fetch("/notify/" + encodeURIComponent(form.get("to")), {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: form.get("text") }),
      });
      if (res.ok) { say(""); event.target.elements.text.value = ""; } else say((await res.json()).error);
    });

    $("logout").addEventListener("click", async () => {
      await fetch("/logout", { method: "POST" });
      signedOut();
    });

    // Already signed in (the cookie survives a reload)?
    fetch("/me").then((res) => res.json()).then((body) => (body.user ? signedIn(body.user) : signedOut()));
  </script>
</body>
</html>
`;
