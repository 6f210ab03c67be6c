// The notifications demo's /docs (Scalar, served from @cellojs/openapi's files) in Chromium
// with nothing reachable but the demo: it renders the guarded SSE route with its events and
// the JSON routes, with zero console errors; the screenshot is .artifacts/screenshots/notifications-docs.png.
import { expect, it } from "vitest";
import { createNotificationsApp } from "../notifications.js";
import { browserAndApp, describeBrowser, loopbackOnly, screenshot } from "./support.js";

describeBrowser("the notifications demo's /docs in Chromium, offline", () => {
  const env = browserAndApp(() => createNotificationsApp());

  it("shows the SSE route's events and the JSON routes, loads only the demo's own files, logs no error", async () => {
    const { requested, blocked } = await loopbackOnly(env.browser.context);
    const { page, errors } = await env.browser.newPage();
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.goto(`${env.url}/docs`);
    await page.getByText("Sign in: sets the HttpOnly token cookie").first().waitFor({ timeout: 20_000 });
    // Scalar opens the first tag ("session"); open "notifications", the stream's.
    await page.getByText("Open Group - notifications").first().click();
    await page.getByText("The signed-in user's notifications (SSE)").first().click();
    await page.getByText("text/event-stream").first().waitFor({ timeout: 10_000 });
    const text = await page.evaluate(() => document.body.innerText);
    expect(text).toContain("Cello.ts notifications demo");
    expect(text).toContain("event: notification");
    expect(text).toContain("A stream of Server-Sent Events: notification, reauthenticate");
    expect(text).toMatch(/data: \{"to":"string","from":"string","text":"string","sent_at":"[^"]+"\}/);
    expect(text).toContain("Send a notification to a user");
    expect(text).toContain("Sign in: sets the HttpOnly token cookie");
    await page.getByText("event: notification").first().scrollIntoViewIfNeeded();
    await screenshot(page, "notifications-docs");
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    expect(new Set(requested)).toEqual(new Set(["/docs", "/docs/scalar.js", "/openapi.json"]));
  }, 60_000);
});
