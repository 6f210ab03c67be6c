// html.ts and context.ts: what the template escapes, what it refuses, and (through a real HTML
// parser, parse5, and a real SSE parser, @cellojs/client's) that no interpolated text becomes markup.
import fc from "fast-check";
import { parseFragment, type DefaultTreeAdapterTypes } from "parse5";
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { CelloError } from "../errors.js";
import { Response } from "../response.js";
import { SseEvent, formatSseFrame } from "../sse/event.js";
import { SseStream } from "../sse/stream.js";
import { celloErrorOf, createParser, recordingLogger, startWithCleanup, type ReceivedEvent } from "../testing.js";
import { Html, escapeHtml, html, unsafeHtml } from "./html.js";

type Node = DefaultTreeAdapterTypes.ChildNode;
type Element = DefaultTreeAdapterTypes.Element;

const start = startWithCleanup();

describe("html`...`", () => {
  it("escapes & < > \" ' in interpolated text, and nothing in the template's own markup", () => {
    const name = `<script>alert("x")</script> & 'friends'`;
    expect(html`<p class="team" title="${name}">${name}</p>`.toString()).toBe(
      `<p class="team" title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;friends&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;friends&#39;</p>`,
    );
    expect(escapeHtml("plain words")).toBe("plain words");
    expect(escapeHtml("&amp;")).toBe("&amp;amp;");
  });

  it("renders numbers and true as written, null, undefined and false as nothing, arrays joined with nothing", () => {
    const rows = ["a<", "b"].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${rows}</ul>`.toString()).toBe("<ul><li>a&lt;</li><li>b</li></ul>");
    expect(html`${1}|${-0.5}|${10n}|${true}|${false}|${null}|${undefined}|${[]}|${[["x&", 2], null]}`.toString()).toBe("1|-0.5|10|true|||||x&amp;2");
    expect(html``.toString()).toBe("");
  });

  it("does not escape a nested html result or unsafeHtml again", () => {
    const inner = html`<b>${"<i>"}</b>`;
    expect(html`<p>${inner}</p>`.toString()).toBe("<p><b>&lt;i&gt;</b></p>");
    expect(html`<p>${unsafeHtml("<em>trusted</em>")}</p>`.toString()).toBe("<p><em>trusted</em></p>");
    // Html is also allowed where text is not: the developer vouches for it.
    expect(html`<div ${unsafeHtml('hidden data-x="1"')}>`.toString()).toBe('<div hidden data-x="1">');
  });

  it("is an Html: String() and JSON give the markup; only html and unsafeHtml build one", () => {
    const fragment = html`<b>${"x"}</b>`;
    expect(fragment).toBeInstanceOf(Html);
    expect(String(fragment)).toBe("<b>x</b>");
    expect(`${fragment}`).toBe("<b>x</b>");
    expect(JSON.stringify({ fragment })).toBe('{"fragment":"<b>x</b>"}');
    const Forged = Html as unknown as new (markup: string) => Html;
    expect(celloErrorOf(() => new Forged("<script>")).code).toBe("CELLO_UNSAFE_HTML");
  });

  it.each([
    ["a tag, outside any value", () => html`<div ${"onclick=alert(1)"}>x</div>`, /sits inside a tag/],
    ["a tag name", () => html`<${"script"}>`, /sits inside a tag/],
    ["an end tag's name", () => html`</${"div"}>`, /sits inside a tag/],
    ["a comment's opening", () => html`<!-${"-"} x -->`, /sits inside a tag/],
    ["an attribute name", () => html`<div data-${"x"}="1">`, /sits inside a tag/],
    ["after a quoted value, in the same tag", () => html`<a href="/x" ${"onclick=alert(1)"}>`, /sits inside a tag/],
    ["an unquoted attribute value", () => html`<div class=${"a onclick=alert(1)"}>`, /unquoted attribute value, .*: quote it/],
    ["the rest of an unquoted value", () => html`<div class=x${"y z"}>`, /unquoted attribute value/],
    ["an unquoted value after spaces", () => html`<input value = ${"1"}>`, /unquoted attribute value/],
    ["a script", () => html`<script>const team = "${"x"}";</script>`, /inside <script> or <style>/],
    ["a script with attributes, upper case", () => html`<SCRIPT type="module">${"x"}</SCRIPT>`, /inside <script> or <style>/],
    ["a style", () => html`<style>.team { color: ${"red"} }</style>`, /inside <script> or <style>/],
    ["a title inside svg (not RCDATA there)", () => html`<svg><title>${"x"}</title></svg>`, /parses differently depending on where the fragment lands/],
    ["after an HTML tag inside svg", () => html`<svg><p>${"x"}</p></svg>`, /parses differently depending on where the fragment lands/],
    ["after a CDATA section inside svg", () => html`<svg><![CDATA[ a ]]><text>${"x"}</text></svg>`, /parses differently depending on where the fragment lands/],
  ])("refuses text in %s (CELLO_UNSAFE_HTML)", (_where, render, message) => {
    const err = celloErrorOf(render);
    expect(err.code).toBe("CELLO_UNSAFE_HTML");
    expect(err.message).toMatch(message);
  });

  it("accepts text where escaping works: quoted values, comments, after a script, textarea, title", () => {
    const x = `"'<>&`;
    const e = "&quot;&#39;&lt;&gt;&amp;";
    expect(html`<a href="/t?q=${x}" title='${x}' data-empty="">${x}</a>`.toString()).toBe(`<a href="/t?q=${e}" title='${e}' data-empty="">${e}</a>`);
    expect(html`<!-- ${x} --><script src="/a.js"></script><p>${x}</p>`.toString()).toBe(`<!-- ${e} --><script src="/a.js"></script><p>${e}</p>`);
    // In a comment a "-" is escaped too: "--" + ">" from the template would otherwise end it early.
    expect(html`<!-- ${"a-b--"}> still a comment -->`.toString()).toBe("<!-- a&#45;b&#45;&#45;> still a comment -->");
    expect(html`<textarea>${x}</textarea><title>${x}</title>`.toString()).toBe(`<textarea>${e}</textarea><title>${e}</title>`);
    // Inside <textarea> and <title> markup is text in HTML but tags in SVG: the rest is opaque.
    expect(html`<textarea><!--</textarea><b title=${null}>${false}</b>`.toString()).toBe(`<textarea><!--</textarea><b title=></b>`);
    expect(() => html`<textarea><!--</textarea><b>${x}</b>`).toThrow(/parses differently depending on where the fragment lands/);
    // SVG text and attributes are fine, and so is everything after the </svg>.
    expect(html`<svg><text x="${x}">${x}</text></svg><script>${null}</script><p>${x}</p>`.toString()).toBe(`<svg><text x="${e}">${e}</text></svg><script></script><p>${e}</p>`);
    expect(html`<p>1 + 1 = ${2}, a > b, x=${"y z"}</p>`.toString()).toBe("<p>1 + 1 = 2, a > b, x=y z</p>");
    // Empty values are fine anywhere: they render nothing.
    expect(html`<div ${null} class=${undefined}>${false}<script>${null}</script></div>`.toString()).toBe("<div  class=><script></script></div>");
  });

  it("refuses what would render as [object ...], with a hint; and being called as a function", () => {
    const values: unknown[] = [{ name: "x" }, Promise.resolve("x"), () => "x", Symbol("x"), new Date(0)];
    for (const value of values) expect(celloErrorOf(() => html`<p>${value as string}</p>`).code).toBe("CELLO_UNSAFE_HTML");
    expect(celloErrorOf(() => html`<p>${Promise.resolve("x") as unknown as string}</p>`).message).toMatch(/a missing await/);
    expect(celloErrorOf(() => html`<p>${[{}] as unknown as string}</p>`).code).toBe("CELLO_UNSAFE_HTML");
    const asFunction = html as unknown as (text: string) => Html;
    expect(celloErrorOf(() => asFunction("<b>")).message).toMatch(/tagged template/);
    expect(celloErrorOf(() => unsafeHtml(1 as unknown as string)).code).toBe("CELLO_UNSAFE_HTML");
    expect(celloErrorOf(() => escapeHtml(undefined as unknown as string)).code).toBe("CELLO_UNSAFE_HTML");
  });

  it("escapes a huge string in linear time and keeps every character", () => {
    const huge = "<&>\"'x".repeat(400_000); // 2.4 MB
    const started = performance.now();
    const markup = html`<p>${huge}</p>`.toString();
    expect(markup.length).toBe(huge.length + 400_000 * (3 + 4 + 3 + 5 + 4) + 7);
    expect(markup.includes("<", 1) && markup.indexOf("<", 1)).toBe(markup.length - 4);
    // Generous: a quadratic escape would take minutes.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

// --- property tests -------------------------------------------------------------------------

/** Text a hostile user might send: markup pieces, quotes, entities, CR/LF, NUL and control characters, any code point. */
const hostileText = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.array(
    fc.oneof(
      fc.constantFrom("<", ">", '"', "'", "&", "=", " ", "/", "-->", "<!--", "--!>", "</div>", "<script>", "</textarea>", "&amp;", "&#60;", "&lt", "\r", "\n", "\r\n", "\0", "\u2028", "\t", "\f", "`"),
      fc.string({ unit: "grapheme-ascii", maxLength: 3 }),
      fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
    ),
    { maxLength: 30 },
  ).map((parts) => parts.join("")),
);

// HTML's input stream preprocessing (13.2.3.5) turns CRLF and CR into LF before anything else.
const newlines = (s: string) => s.replace(/\r\n?/g, "\n");
// In attribute values and comments the tokenizer replaces NUL by U+FFFD; in text the tree builder drops it.
const inValue = (s: string) => newlines(s).replaceAll("\0", "\uFFFD");
const inText = (s: string) => newlines(s).replaceAll("\0", "");

function elements(nodes: Node[]): Element[] {
  return nodes.flatMap((node) => ("tagName" in node ? [node, ...elements(node.childNodes)] : []));
}

describe("html`...` through a real HTML parser (parse5)", () => {
  it("no interpolated text makes a tag or leaves its attribute: the DOM holds exactly the text", () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        const markup = html`<div title="${text}" data-x='${text}'>${text}<!--${text}--></div><p>${[text, text]}</p>`.toString();
        const tree = parseFragment(markup);
        const all = elements(tree.childNodes);
        expect(all.map((e) => e.tagName)).toEqual(["div", "p"]);
        const [div, p] = all as [Element, Element];
        expect(div.attrs).toEqual([
          { name: "title", value: inValue(text) },
          { name: "data-x", value: inValue(text) },
        ]);
        const texts = div.childNodes.filter((n) => n.nodeName === "#text").map((n) => (n as DefaultTreeAdapterTypes.TextNode).value);
        expect(texts.join("")).toBe(inText(text));
        // A comment's content is not decoded: the escaped text stays inside it.
        const comments = div.childNodes.filter((n) => n.nodeName === "#comment").map((n) => (n as DefaultTreeAdapterTypes.CommentNode).data);
        expect(comments).toEqual([inValue(escapeHtml(text).replaceAll("-", "&#45;"))]);
        const pText = p.childNodes.map((n) => (n as DefaultTreeAdapterTypes.TextNode).value).join("");
        expect(pText).toBe(inText(text + text));
      }),
      { numRuns: 500 },
    );
  });

  it("wherever a template puts a value, escaped text never changes the elements or attributes the parser builds", () => {
    // Random templates from pieces of HTML syntax: where the template accepts text (it refuses the
    // unsafe places), the tree with hostile text must have the shape of the tree with none.
    const pieces = ["<div", "<p>", "</div>", "<a", " ", "=", '"', "'", "a", ' class="', " title='", ">", "/>", "/", "<!--", "-->", "--!>", "<!DOCTYPE html>", "<?x ", "</", "<script>", "</script>", "<style>", "</style>", "<textarea>", "</textarea>", "<title>", "</title>", "<noscript>", "</noscript>", "\n", "\t", "&", "<"];
    pieces.push("<svg>", "</svg>", "<svg/>", "<math>", "</math>", "<![CDATA[", "]]>", "<b>", "</p>", "<font ", "<mi>", "<foreignObject>", "<text>");
    const statics = fc.array(fc.array(fc.constantFrom(...pieces), { maxLength: 8 }).map((p) => p.join("")), { minLength: 2, maxLength: 4 });
    const shape = (markup: string) => {
      const all = elements(parseFragment(markup).childNodes);
      return all.map((e) => `${e.tagName}[${e.attrs.map((attr) => attr.name).join(",")}]`);
    };
    let accepted = 0;
    fc.assert(
      fc.property(statics, hostileText.filter((t) => /[<>"'&=\s/]/.test(t)), (parts, text) => {
        const strings = Object.assign([...parts], { raw: [...parts] }) as unknown as TemplateStringsArray;
        const holes = parts.length - 1;
        let withText: string;
        try {
          withText = html(strings, ...Array<string>(holes).fill(text)).toString();
        } catch (err) {
          expect((err as CelloError).code).toBe("CELLO_UNSAFE_HTML");
          return;
        }
        accepted++;
        // The baseline is a plain word: an empty value is the developer's own markup (`<!--${""}>` closes the comment).
        const plain = html(strings, ...Array<string>(holes).fill("x")).toString();
        expect(shape(withText)).toEqual(shape(plain));
      }),
      { numRuns: 2000 },
    );
    // The generator reaches accepted templates often enough for the property to mean something.
    expect(accepted).toBeGreaterThan(200);
  });

  it("text refused where escaping cannot help is refused for every value, not rendered", () => {
    fc.assert(
      fc.property(hostileText.filter((t) => t !== ""), (text) => {
        expect(() => html`<div class=${text}>`).toThrow(CelloError);
        expect(() => html`<div ${text}>`).toThrow(CelloError);
        expect(() => html`<script>${text}</script>`).toThrow(CelloError);
      }),
      { numRuns: 100 },
    );
  });
});

describe("html fragments as SSE events", () => {
  function parsed(frames: string): ReceivedEvent[] {
    const events: ReceivedEvent[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event) });
    parser.feed(frames);
    return events;
  }

  it("frames a multi-line fragment as one data: line per line", () => {
    const fragment = html`<li>\n  ${"a\r\nb"}\r</li>`;
    expect(formatSseFrame(fragment, { event: "score" })).toBe("event: score\ndata: <li>\ndata:   a\ndata: b\ndata: </li>\n\n");
    expect(new SseEvent(fragment).data).toBe("<li>\n  a\r\nb\r</li>");
  });

  it("any fragment round-trips through a real SSE parser (CR and CRLF arrive as LF, as HTML reads them anyway)", () => {
    fc.assert(
      fc.property(fc.array(hostileText, { maxLength: 4 }), (texts) => {
        const fragments = texts.map((text) => html`<div class="row">\n${text}\r\n</div>`);
        const frames = fragments.map((fragment, i) => formatSseFrame(fragment, { event: "row", id: i })).join("");
        const events = parsed(frames);
        expect(events.map((e) => [e.event, e.id, e.data])).toEqual(fragments.map((f, i) => ["row", String(i), newlines(String(f))]));
        // And what the browser parses from the received data is the same DOM as from the fragment.
        for (const [i, event] of events.entries()) expect(elements(parseFragment(event.data).childNodes).length).toBe(elements(parseFragment(String(fragments[i])).childNodes).length);
      }),
      { numRuns: 300 },
    );
  });
});

describe("html over a real socket", () => {
  it("a returned Html answers text/html; charset=utf-8, escaped; Response.html takes one with a status", async () => {
    const app = new App();
    app.get("/team/:name", (request) => html`<h1>${request.params.name}</h1>`);
    app.get("/missing", () => Response.html(html`<p>No match for ${"<b>"}</p>`, 404));
    const client = await start(app);
    const res = await client.get(`/team/${encodeURIComponent("<script>alert(1)</script>")}`);
    expect([res.status, res.headers["content-type"], res.text]).toEqual([200, "text/html; charset=utf-8", "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"]);
    expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(res.text)));
    const missing = await client.get("/missing");
    expect([missing.status, missing.headers["content-type"], missing.text]).toEqual([404, "text/html; charset=utf-8", "<p>No match for &lt;b&gt;</p>"]);
  });

  it("a template error in a handler is a 500 with the generic body, logged with its code", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/bad", (request) => html`<div class=${request.query.c}>`);
    const client = await start(app);
    const res = await client.get("/bad?c=x%20onclick%3Dalert(1)");
    expect(res.status).toBe(500);
    expect(res.text).not.toContain("onclick");
    expect(logger.errors.map(([, err]) => (err as CelloError).code)).toEqual(["CELLO_UNSAFE_HTML"]);
  });

  it("stream.addEvent, new SseEvent, a generator and a channel all send a fragment as its markup", async () => {
    const app = new App();
    const hostile = "</div>\r\n<script>alert(1)</script>";
    const scores = app.channel("scores");
    app.get("/stream", () => {
      const stream = new SseStream();
      stream.addEvent("score", html`<b>${hostile}</b>`);
      stream.addData(html`<i>2</i>`);
      stream.add(new SseEvent(html`<u>\n3</u>`, { event: "score", id: 3 }));
      stream.close();
      return stream;
    });
    app.get("/generator", async function* () {
      yield html`<p>${hostile}</p>`;
      yield new SseEvent(html`<p>two</p>`, { event: "score" });
    });
    app.get("/channel", (request) => scores.subscribe(request));
    const client = await start(app);

    const stream = await client.sse("/stream");
    expect(stream.raw).toBe(
      ": ok\n\nevent: score\ndata: <b>&lt;/div&gt;\ndata: &lt;script&gt;alert(1)&lt;/script&gt;</b>\n\ndata: <i>2</i>\n\nid: 3\nevent: score\ndata: <u>\ndata: 3</u>\n\n",
    );
    const generated = await client.sse("/generator");
    expect(generated.events.map((e) => [e.event, e.data])).toEqual([
      ["message", "<p>&lt;/div&gt;\n&lt;script&gt;alert(1)&lt;/script&gt;</p>"],
      ["score", "<p>two</p>"],
    ]);
    const live = await client.openSse("/channel");
    await scores.publish(html`<b>${hostile}</b>`, { event: "score" });
    const [event] = await live.waitForEvents(1);
    expect([event!.event, event!.data]).toEqual(["score", "<b>&lt;/div&gt;\n&lt;script&gt;alert(1)&lt;/script&gt;</b>"]);
    live.close();
  });
});
