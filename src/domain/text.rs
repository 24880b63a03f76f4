//! Control characters in text a user names things with (issue 25, item 7):
//! one rule for every API, so that no name, key, tag or value can carry a
//! terminal escape, a NUL or a line break into another user's listing.

/// Where a string is going, which decides the characters it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextUse {
    /// An image name, a property key, a tag: no control character at all.
    Label,
    /// A property value: free text, so tab and line feed are allowed (a
    /// description over several lines); every other control character is not.
    Value,
}

/// Whether `c` is a control character: C0 (U+0000–U+001F), DEL (U+007F) or
/// C1 (U+0080–U+009F), which is exactly what `char::is_control` says.
fn is_control(c: char) -> bool {
    c.is_control()
}

/// The first control character `use_` does not allow in `s`, with its
/// position (0-based, in characters).
pub(crate) fn first_control(s: &str, use_: TextUse) -> Option<(usize, char)> {
    s.chars()
        .enumerate()
        .find(|&(_, c)| is_control(c) && !(use_ == TextUse::Value && matches!(c, '\t' | '\n')))
}

/// `s` with every control character written as `\u{..}`, cut to `max`
/// characters: safe to quote in a message, a log line or a terminal.
pub(crate) fn shown(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push_str("...");
            break;
        }
        if is_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Refuses a control character that `use_` does not allow in `s`; the
/// message names `what` (`name`, `tag`, `property key`, ...) and the
/// character, and quotes the text with its controls escaped.
pub(crate) fn check_text(what: &str, s: &str, use_: TextUse) -> Result<(), String> {
    match first_control(s, use_) {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "Invalid {what} '{}': control character U+{:04X} at character {} is not allowed{}",
            shown(s, 80),
            u32::from(c),
            at + 1,
            match use_ {
                TextUse::Label => "",
                TextUse::Value => " (only tab and line feed are)",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_refuse_every_c0_c1_and_del_and_nothing_else() {
        for c in (0u32..=0x1f).chain([0x7f]).chain(0x80..=0x9f) {
            let c = char::from_u32(c).unwrap();
            let s = format!("a{c}b");
            assert_eq!(first_control(&s, TextUse::Label), Some((1, c)), "{c:?}");
        }
        for ok in [
            "Debian 12",
            "Ελληνικά",
            "a\u{a0}b",
            "x\u{200b}y",
            "~!@#$%^&*()",
        ] {
            assert_eq!(first_control(ok, TextUse::Label), None, "{ok:?}");
        }
    }

    #[test]
    fn values_allow_tab_and_line_feed_only() {
        assert_eq!(first_control("a\tb\nc", TextUse::Value), None);
        assert_eq!(first_control("a\r\nb", TextUse::Value), Some((1, '\r')));
        assert_eq!(
            first_control("\u{1b}[2J", TextUse::Value),
            Some((0, '\u{1b}'))
        );
        assert_eq!(first_control("a\tb", TextUse::Label), Some((1, '\t')));
    }

    #[test]
    fn messages_never_carry_the_control_character() {
        let e = check_text("name", "x\u{1b}]0;pwned\u{7}\u{85}", TextUse::Label).unwrap_err();
        assert!(e.contains("U+001B at character 2"), "{e}");
        assert!(!e.chars().any(char::is_control), "{e:?}");
        assert!(e.contains("\\u{1b}"), "{e}");
        assert_eq!(shown("abcdef", 3), "abc...");
    }
}
