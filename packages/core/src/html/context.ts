/**
 * Where each `${...}` of an `html` template sits, read from the template's
 * static text with a small subset of the WHATWG HTML tokenizer (13.2.5). Escaping
 * makes text safe in element content and in a quoted attribute value; in the
 * places listed by {@link HoleContext} it does not, so html.ts refuses text there.
 * Where this reading could differ from a browser's, it gives up for the rest of the
 * template (`opaque`) rather than guess. Read once per template (per call site) and cached.
 */

/**
 * `safe`: element content, a quoted attribute value, `<title>`/`<textarea>` text; `comment`: inside
 * a comment (where a `-` could end it, so html.ts escapes that too); `tag`: inside a tag outside
 * any value (a name, where text would add attributes); `unquoted`: an unquoted attribute value (a
 * space would start a new attribute); `raw-text`: inside an element whose content is not decoded
 * (script, style), where escaping does not apply; `opaque`: after markup whose parsing depends on
 * where the fragment lands (SVG or MathML content, a CDATA section), where no place is known safe.
 */
export type HoleContext = "safe" | "comment" | "tag" | "unquoted" | "raw-text" | "opaque";

// 13.1.2: the raw text elements (and the ones the parser treats so), whose content ends only at their end tag.
const RAW_TEXT = new Set(["script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"]);
// Escapable raw text: character references are decoded, tags are not; ends only at the end tag.
const RCDATA = new Set(["title", "textarea"]);
// 13.2.6.5: in SVG or MathML content these start tags leave it (the "breakout" list, with font),
// and these are HTML integration points; with RAW_TEXT and RCDATA (which do not switch the tokenizer
// there) and CDATA sections, they are where an SVG/MathML fragment parses unlike HTML.
const FOREIGN_DIVERGENT = new Set([
  ..."b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var font".split(" "),
  ..."foreignobject desc mi mo mn ms mtext annotation-xml".split(" "),
  ...RAW_TEXT,
  ...RCDATA,
]);

type State =
  | "Text"
  | "TagName"
  | "BeforeAttribute"
  | "AttributeName"
  | "AfterAttributeName"
  | "BeforeValue"
  | "DoubleQuoted"
  | "SingleQuoted"
  | "Unquoted"
  | "Comment"
  | "Bogus"
  | "RawText"
  | "RcData"
  | "Opaque";

const WHITESPACE = /[\t\n\f\r ]/;
// What may stand between a `<` and a hole for the value to complete a tag (`<`, `</`) or a comment (`<!`, `<!-`).
const OPEN_AT_HOLE = new Set(["", "/", "!", "!-"]);
const LETTER = /[a-zA-Z]/;

function contextOf(state: State): HoleContext {
  switch (state) {
    case "Text":
    case "DoubleQuoted":
    case "SingleQuoted":
    case "Bogus":
    case "RcData":
      return "safe";
    case "Comment":
      return "comment";
    case "BeforeValue":
    case "Unquoted":
      return "unquoted";
    case "RawText":
      return "raw-text";
    case "Opaque":
      return "opaque";
    default:
      return "tag";
  }
}

const cache = new WeakMap<readonly string[], readonly HoleContext[]>();

/** The context of each hole of the template with these static parts (`strings.length - 1` of them). */
export function holeContexts(strings: readonly string[]): readonly HoleContext[] {
  const cached = cache.get(strings);
  if (cached !== undefined) return cached;
  const contexts: HoleContext[] = [];
  let state: State = "Text";
  let tagName = "";
  let isEndTag = false;
  // The element whose raw text or RCDATA we are in (its end tag closes it).
  let rawElement = "";
  // Open <svg>/<math> elements, innermost last: inside them the tokenizer never switches to raw text.
  const foreign: string[] = [];
  for (let part = 0; part < strings.length; part++) {
    const text = strings[part]!;
    for (let i = 0; i < text.length && state !== "Opaque"; i++) {
      const c = text[i]!;
      switch (state) {
        case "Text":
          if (c !== "<") break;
          if (part < strings.length - 1 && text.length - i <= 3 && OPEN_AT_HOLE.has(text.slice(i + 1))) {
            // `<${x}`, `</${x}`, `<!${x}`, `<!-${x}`: the value would finish a tag's or comment's opening.
            state = "TagName";
            isEndTag = false;
            tagName = "";
            i = text.length;
          } else if (text.startsWith("!--", i + 1)) {
            state = "Comment";
            i += 3;
          } else if (text.startsWith("![CDATA[", i + 1)) {
            // A CDATA section in SVG or MathML, a bogus comment in HTML: they end in different places.
            state = foreign.length > 0 ? "Opaque" : "Bogus";
          } else if (text[i + 1] === "/" && LETTER.test(text[i + 2] ?? "")) {
            state = "TagName";
            isEndTag = true;
            tagName = "";
            i += 1;
          } else if (LETTER.test(text[i + 1] ?? "")) {
            state = "TagName";
            isEndTag = false;
            tagName = "";
          } else if (text[i + 1] === "!" || text[i + 1] === "?" || text[i + 1] === "/") {
            state = "Bogus";
          }
          break;
        case "TagName":
          if (WHITESPACE.test(c) || c === "/") state = afterTagName();
          else if (c === ">") state = closeTag(afterTagName());
          else tagName += c.toLowerCase();
          break;
        case "BeforeAttribute":
          if (c === ">") state = closeTag(state);
          else if (!WHITESPACE.test(c) && c !== "/") state = "AttributeName";
          break;
        case "AttributeName":
          if (c === "=") state = "BeforeValue";
          else if (c === ">") state = closeTag(state);
          else if (c === "/") state = "BeforeAttribute";
          else if (WHITESPACE.test(c)) state = "AfterAttributeName";
          break;
        case "AfterAttributeName":
          if (c === "=") state = "BeforeValue";
          else if (c === ">") state = closeTag(state);
          else if (c === "/") state = "BeforeAttribute";
          else if (!WHITESPACE.test(c)) state = "AttributeName";
          break;
        case "BeforeValue":
          if (c === '"') state = "DoubleQuoted";
          else if (c === "'") state = "SingleQuoted";
          else if (c === ">") state = closeTag(state);
          else if (!WHITESPACE.test(c)) state = "Unquoted";
          break;
        case "DoubleQuoted":
          if (c === '"') state = "BeforeAttribute";
          break;
        case "SingleQuoted":
          if (c === "'") state = "BeforeAttribute";
          break;
        case "Unquoted":
          if (WHITESPACE.test(c)) state = "BeforeAttribute";
          else if (c === ">") state = closeTag(state);
          break;
        case "Comment":
          if (c === ">" && (text.endsWith("--", i) || text.endsWith("--!", i))) state = "Text";
          break;
        case "Bogus":
          if (c === ">") state = "Text";
          break;
        case "RawText":
        case "RcData":
          if (c === "<" && text[i + 1] === "/" && text.slice(i + 2, i + 2 + rawElement.length).toLowerCase() === rawElement) {
            const after = text[i + 2 + rawElement.length];
            if (after === undefined || after === ">" || after === "/" || WHITESPACE.test(after)) {
              state = "TagName";
              isEndTag = true;
              tagName = "";
              i += 1;
              break;
            }
          }
          // Markup in a <title> or <textarea> is text here, but tags if the fragment lands in SVG: opaque.
          if (c === "<" && state === "RcData") state = "Opaque";
          break;
      }
    }
    if (part < strings.length - 1) contexts.push(contextOf(state));
  }
  const frozen = Object.freeze(contexts);
  cache.set(strings, frozen);
  return frozen;

  /** The tag's name is read: in SVG or MathML, one that parses unlike HTML makes the rest opaque. */
  function afterTagName(): State {
    if (foreign.length > 0 && FOREIGN_DIVERGENT.has(tagName) && !(isEndTag && tagName !== "br" && tagName !== "p")) return "Opaque";
    return "BeforeAttribute";
  }

  /**
   * The `>` of a tag: a start tag of a raw text or RCDATA element opens its text. `<svg>` and `<math>`
   * open foreign content (a self-closing `<svg/>` too: staying foreign only makes more places opaque);
   * their end tag closes up to the innermost of that name, and one with none open is ignored, as the parser does.
   */
  function closeTag(current: State): State {
    if (current === "Opaque") return current;
    if (tagName === "svg" || tagName === "math") {
      if (!isEndTag) foreign.push(tagName);
      else if (foreign.includes(tagName)) foreign.length = foreign.lastIndexOf(tagName);
    }
    if (isEndTag || foreign.length > 0) return "Text";
    if (RAW_TEXT.has(tagName)) {
      rawElement = tagName;
      return "RawText";
    }
    if (RCDATA.has(tagName)) {
      rawElement = tagName;
      return "RcData";
    }
    return "Text";
  }
}
