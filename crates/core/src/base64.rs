//! Standard base64 (RFC 4648 section 4), as Kubernetes writes a Secret's `data` and a
//! ConfigMap's `binaryData`. Only decoding: the gate reads what the inputs hold.

/// The bytes `text` encodes, with or without `=` padding, ignoring whitespace (a folded
/// block scalar, a line-wrapped value). `None` when `text` holds a character outside the
/// alphabet or a length no encoder produces.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut pending = 0u32;
    let mut symbols = 0usize;
    let mut padding = false;
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            _ => return None,
        };
        // Nothing but padding may follow padding.
        if padding {
            return None;
        }
        symbols += 1;
        bits = (bits << 6) | u32::from(value);
        pending += 6;
        if pending >= 8 {
            pending -= 8;
            out.push(u8::try_from((bits >> pending) & 0xff).ok()?);
        }
        bits &= (1 << pending) - 1;
    }
    // One symbol past a multiple of four carries only six bits: no encoder writes that.
    (symbols % 4 != 1).then_some(out)
}

/// [`decode`], when the bytes are UTF-8 text.
pub fn decode_text(text: &str) -> Option<String> {
    String::from_utf8(decode(text)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_padded_unpadded_and_wrapped_text() {
        // RFC 4648 section 10 test vectors.
        for (encoded, plain) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("Zm9vYg", "foob"),
            ("Zm9v\n  YmFy\n", "foobar"),
        ] {
            assert_eq!(decode_text(encoded).as_deref(), Some(plain), "{encoded}");
        }
    }

    #[test]
    fn rejects_what_is_not_base64() {
        for bad in ["not base64!", "Zm9v=YmFy", "Zm9vY", "-_-_"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        // Bytes that are no text.
        assert_eq!(decode("/w==").as_deref(), Some(&[0xff][..]));
        assert_eq!(decode_text("/w=="), None);
    }
}
