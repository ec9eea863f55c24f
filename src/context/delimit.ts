/**
 * Untrusted text (mail bodies, attachments, knowledge files) goes to the model inside tags the
 * system instruction names as data. Text cannot close or forge those tags: any `<tag` or `</tag`
 * of ours inside it is written as `&lt;tag`, and attribute values are escaped.
 */
export const DATA_TAGS = ['email', 'knowledge', 'document', 'attachment', 'unavailable-attachments'] as const;

const OUR_TAGS = new RegExp(`<(/?\\s*)(${DATA_TAGS.join('|')})(?=[\\s>/]|$)`, 'gi');

/** The text with every opening or closing tag of ours defused. */
export function neutralize(text: string): string {
  return text.replace(OUR_TAGS, '&lt;$1$2');
}

/** A value safe inside a double-quoted attribute: one line, escaped, bounded. */
export function attr(value: string): string {
  return value
    .replace(/\p{Cc}+/gu, ' ')
    .slice(0, 255)
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** `<tag a="…">\ncontent\n</tag>` with the content neutralized. */
export function wrap(tag: (typeof DATA_TAGS)[number], attributes: Record<string, string | number | undefined>, content: string): string {
  return wrapTrusted(tag, attributes, neutralize(content));
}

/** Like {@link wrap}, for content that is already made of wrapped (neutralized) pieces. */
export function wrapTrusted(tag: (typeof DATA_TAGS)[number], attributes: Record<string, string | number | undefined>, content: string): string {
  const attrs = Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${attr(String(v))}"`)
    .join('');
  return `<${tag}${attrs}>\n${content}\n</${tag}>`;
}
