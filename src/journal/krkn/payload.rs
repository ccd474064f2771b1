//! Krkn's structured payloads: `base64(json.dumps(obj))` carried in `resource_identifier`.
//!
//! Decoding is strict (standard alphabet, correct padding): Krkn's producers always emit
//! `base64.b64encode`, so anything else is a damaged file and is reported, not repaired.

use serde_json::Value;

/// Decodes standard base64 with padding.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.trim().as_bytes();
    if bytes.is_empty() {
        return Err("empty payload".into());
    }
    if !bytes.len().is_multiple_of(4) {
        return Err(format!("base64 length {} is not a multiple of 4", bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i + 1 == chunks;
        let pad = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return Err("misplaced `=` padding".into());
        }
        let mut acc: u32 = 0;
        for &b in &chunk[..4 - pad] {
            let v =
                sextet(b).ok_or_else(|| format!("{:?} is not a base64 character", b as char))?;
            acc = (acc << 6) | u32::from(v);
        }
        acc <<= 6 * pad as u32;
        let decoded = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Ok(out)
}

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// `resource_identifier` → JSON value, with a reason on failure.
pub fn decode_json(resource_identifier: &str) -> Result<Value, String> {
    let bytes = decode_base64(resource_identifier)
        .map_err(|e| format!("resource_identifier is not base64: {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| "resource_identifier decodes to bytes that are not UTF-8".to_string())?;
    serde_json::from_str(&text)
        .map_err(|e| format!("resource_identifier decodes to text that is not JSON ({e}): {text}"))
}

/// Encodes standard base64 with padding (for tests and generated variants).
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut acc = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= u32::from(b) << (16 - 8 * i);
        }
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Python's `json.dumps(obj)` layout (`", "` and `": "` separators), so generated payloads look
/// like the ones Krkn writes.
pub fn python_json_dumps(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(python_json_dumps).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_json_dumps(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_padding_length() {
        for text in ["", "a", "ab", "abc", "abcd", "{\"k\": [1, 2]}"] {
            let enc = encode_base64(text.as_bytes());
            if text.is_empty() {
                assert!(decode_base64(&enc).is_err());
                continue;
            }
            assert_eq!(decode_base64(&enc).unwrap(), text.as_bytes(), "{enc}");
        }
    }

    #[test]
    fn decodes_krkns_syn_flood_payload() {
        let v = decode_json(&encode_base64(br#"["syn-flood-gjycgfstge", "syn-flood-yqgdayoltc"]"#))
            .unwrap();
        assert_eq!(v[1], "syn-flood-yqgdayoltc");
        assert_eq!(python_json_dumps(&v), r#"["syn-flood-gjycgfstge", "syn-flood-yqgdayoltc"]"#);
    }

    #[test]
    fn rejects_damage() {
        assert!(decode_base64("abc").is_err());
        assert!(decode_base64("ab=c").is_err());
        assert!(decode_base64("a===").is_err());
        assert!(decode_base64("ab!d").is_err());
        assert!(decode_json("cpu-hog-kqlog").is_err());
    }
}
