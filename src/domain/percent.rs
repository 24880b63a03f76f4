//! Strict percent decoding and the two encodings the API renders (header values, location segments).

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters left as they are in rendered header values: `A-Z a-z 0-9 _ . - ~ /`
/// (`encode_header_value_into` writes the same by hand; the tests hold them equal).
#[cfg(test)]
const HEADER_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// Characters left as they are in a location segment: `A-Z a-z 0-9 - . _ ~`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Why a percent-encoded string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A `%` not followed by two hex digits; holds what followed it.
    BadEscape(String),
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::BadEscape(s) => write!(f, "bad percent escape '%{s}'"),
            DecodeError::NotUtf8 => write!(f, "percent-decoded bytes are not UTF-8"),
        }
    }
}

/// Decodes `%XX` escapes once, rejecting malformed escapes and non-UTF-8 results.
pub(crate) fn decode(input: &str) -> Result<String, DecodeError> {
    let bytes = input.as_bytes();
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'%') {
        let at = i + off;
        let ok = bytes.len() >= at + 3
            && bytes[at + 1].is_ascii_hexdigit()
            && bytes[at + 2].is_ascii_hexdigit();
        if !ok {
            let tail: String = input[at + 1..].chars().take(2).collect();
            return Err(DecodeError::BadEscape(tail));
        }
        i = at + 3;
    }
    if i == 0 && !input.contains('%') {
        return Ok(input.to_string());
    }
    percent_decode(bytes)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| DecodeError::NotUtf8)
}

/// Decodes a query-string component: `+` is a space, then strict percent decoding.
pub(crate) fn decode_query(input: &str) -> Result<String, DecodeError> {
    if input.contains('+') {
        decode(&input.replace('+', " "))
    } else {
        decode(input)
    }
}

/// Encodes a header value, leaving only `A-Z a-z 0-9 _ . - ~ /` as they are.
#[cfg(test)]
pub(crate) fn encode_header_value(value: &str) -> String {
    utf8_percent_encode(value, HEADER_VALUE).to_string()
}

/// Appends what `encode_header_value` gives, byte by byte (no formatter,
/// no `String`): the image's headers write every value of a HEAD this way.
pub(crate) fn encode_header_value_into(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// Encodes one location segment, leaving only `A-Z a-z 0-9 - . _ ~` as they are.
pub(crate) fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_once() {
        assert_eq!(decode("a%20b%2520").unwrap(), "a b%20");
        assert_eq!(decode("caf%C3%A9").unwrap(), "café");
        assert_eq!(decode("plain+text").unwrap(), "plain+text");
    }

    #[test]
    fn rejects_malformed_escapes() {
        assert_eq!(
            decode("%zz").unwrap_err(),
            DecodeError::BadEscape("zz".into())
        );
        assert!(decode("100%").is_err());
        assert!(decode("%4").is_err());
        assert!(decode("%é").is_err());
        assert_eq!(decode("%ff").unwrap_err(), DecodeError::NotUtf8);
    }

    #[test]
    fn query_plus_is_space() {
        assert_eq!(decode_query("a+b%2B").unwrap(), "a b+");
    }

    #[test]
    fn header_values_keep_the_safe_set() {
        assert_eq!(
            encode_header_value("Debian 12/x_y.z-~"),
            "Debian%2012/x_y.z-~"
        );
        assert_eq!(encode_header_value("é"), "%C3%A9");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }
}
