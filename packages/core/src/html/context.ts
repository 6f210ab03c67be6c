/**
 * Where each `${...}` of an `html` template sits, read from the template's
 * static text with a small subset of the WHATWG HTML tokenizer (13.2.5). Escaping
 * makes text safe in element content and in a quoted attribute value; in the
 * places listed by {@link HoleContext} it does not, so html.ts refuses text there.
 * Read once per template (per call site) and cached.
 */

/**
 * `safe`: element content, a quoted attribute value, a comment; `tag`: inside a tag
 * outside any value (a name, where text would add attributes); `unquoted`: an unquoted
 * attribute value (a space would start a new attribute); `raw-text`: inside an element
 * whose content is not decoded (script, style), where escaping does not apply.
 */
export type HoleContext = "safe" | "tag" | "unquoted" | "raw-text";

// 13.1.2: the raw text elements (and the ones the parser treats so), whose content ends only at their end tag.
const RAW_TEXT = new Set(["script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"]);

type State = "Text" | "TagName" | "BeforeAttribute" | "AttributeName" | "AfterAttributeName" | "BeforeValue" | "DoubleQuoted" | "SingleQuoted" | "Unquoted" | "Comment" | "Bogus" | "RawText";

const WHITESPACE = /[\t\n\f\r ]/;
const LETTER = /[a-zA-Z]/;

function contextOf(state: State): HoleContext {
  switch (state) {
    case "Text":
    case "DoubleQuoted":
    case "SingleQuoted":
    case "Comment":
    case "Bogus":
      return "safe";
    case "BeforeValue":
    case "Unquoted":
      return "unquoted";
    case "RawText":
      return "raw-text";
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
  // The element whose raw text we are in (its end tag closes it).
  let rawElement = "";
  for (let part = 0; part < strings.length; part++) {
    const text = strings[part]!;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      switch (state) {
        case "Text":
          if (c !== "<") break;
          if (text.startsWith("!--", i + 1)) {
            state = "Comment";
            i += 3;
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
          } else if (i + 1 === text.length && part < strings.length - 1) {
            // `<${name}`: the hole would be a tag name.
            state = "TagName";
            isEndTag = false;
            tagName = "";
          }
          break;
        case "TagName":
          if (WHITESPACE.test(c) || c === "/") state = "BeforeAttribute";
          else if (c === ">") state = closeTag();
          else tagName += c.toLowerCase();
          break;
        case "BeforeAttribute":
          if (c === ">") state = closeTag();
          else if (!WHITESPACE.test(c) && c !== "/") state = "AttributeName";
          break;
        case "AttributeName":
          if (c === "=") state = "BeforeValue";
          else if (c === ">") state = closeTag();
          else if (c === "/") state = "BeforeAttribute";
          else if (WHITESPACE.test(c)) state = "AfterAttributeName";
          break;
        case "AfterAttributeName":
          if (c === "=") state = "BeforeValue";
          else if (c === ">") state = closeTag();
          else if (c === "/") state = "BeforeAttribute";
          else if (!WHITESPACE.test(c)) state = "AttributeName";
          break;
        case "BeforeValue":
          if (c === '"') state = "DoubleQuoted";
          else if (c === "'") state = "SingleQuoted";
          else if (c === ">") state = closeTag();
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
          else if (c === ">") state = closeTag();
          break;
        case "Comment":
          if (c === ">" && (text.endsWith("--", i) || text.endsWith("--!", i))) state = "Text";
          break;
        case "Bogus":
          if (c === ">") state = "Text";
          break;
        case "RawText":
          if (c === "<" && text[i + 1] === "/" && text.slice(i + 2, i + 2 + rawElement.length).toLowerCase() === rawElement) {
            const after = text[i + 2 + rawElement.length];
            if (after === undefined || after === ">" || after === "/" || WHITESPACE.test(after)) {
              state = "TagName";
              isEndTag = true;
              tagName = "";
              i += 1;
            }
          }
          break;
      }
    }
    if (part < strings.length - 1) contexts.push(contextOf(state));
  }
  const frozen = Object.freeze(contexts);
  cache.set(strings, frozen);
  return frozen;

  /** The `>` of a tag: a start tag of a raw text element opens its raw text. */
  function closeTag(): State {
    if (!isEndTag && RAW_TEXT.has(tagName)) {
      rawElement = tagName;
      return "RawText";
    }
    return "Text";
  }
}
