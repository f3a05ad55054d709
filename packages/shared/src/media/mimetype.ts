/**
 * A mimetype as RFC 9110 (section 8.3.1) writes a media type:
 * `type "/" subtype *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] )`.
 * A requester's mimetype becomes a response header, so anything else (a control character,
 * text beyond Latin-1) is refused when the request comes in, never when the file is sent.
 */

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** qdtext and quoted-pair: tab, visible ASCII and obs-text (Latin-1 above 0x7F), no control character. */
const QUOTED_STRING = '"(?:[\\t \\x21\\x23-\\x5B\\x5D-\\x7E\\x80-\\xFF]|\\\\[\\t \\x21-\\x7E\\x80-\\xFF])*"';
const PARAMETER = `${TOKEN}=(?:${TOKEN}|${QUOTED_STRING})`;
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;(?:[ \\t]*${PARAMETER})?)*$`);

/** Whether `value` is a media type a response may carry as its Content-Type. */
export function isMediaType(value: string): boolean {
  return MEDIA_TYPE.test(value);
}
