//! Encoding and hash functions: base64encode, base64decode, jsonencode,
//! jsondecode, urlencode, csvdecode, md5, sha1, sha256, sha512,
//! base64sha256, base64sha512.

use super::{Args, Val};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::Digest;
use std::collections::BTreeMap;

/// The hashes Terraform offers.
#[derive(Clone, Copy)]
pub(super) enum Hash {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    pub(super) fn bytes(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Md5 => md5::Md5::digest(data).to_vec(),
            Hash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// Lowercase hexadecimal digest.
    pub(super) fn hex(self, data: &[u8]) -> String {
        self.bytes(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Base64 of the raw digest.
    pub(super) fn base64(self, data: &[u8]) -> String {
        B64.encode(self.bytes(data))
    }
}

fn one_str(a: &Args) -> Result<String, String> {
    a.exactly(1)?;
    a.str(0)
}

pub(super) fn md5(a: &Args) -> Result<Val, String> {
    Ok(Val::String(Hash::Md5.hex(one_str(a)?.as_bytes())))
}

pub(super) fn sha1(a: &Args) -> Result<Val, String> {
    Ok(Val::String(Hash::Sha1.hex(one_str(a)?.as_bytes())))
}

pub(super) fn sha256(a: &Args) -> Result<Val, String> {
    Ok(Val::String(Hash::Sha256.hex(one_str(a)?.as_bytes())))
}

pub(super) fn sha512(a: &Args) -> Result<Val, String> {
    Ok(Val::String(Hash::Sha512.hex(one_str(a)?.as_bytes())))
}

pub(super) fn base64sha256(a: &Args) -> Result<Val, String> {
    Ok(Val::String(Hash::Sha256.base64(one_str(a)?.as_bytes())))
}

pub(super) fn base64sha512(a: &Args) -> Result<Val, String> {
    Ok(Val::String(Hash::Sha512.base64(one_str(a)?.as_bytes())))
}

pub(super) fn base64encode(a: &Args) -> Result<Val, String> {
    Ok(Val::String(B64.encode(one_str(a)?)))
}

/// Decodes standard base64; the result must be UTF-8 text.
pub(super) fn base64decode(a: &Args) -> Result<Val, String> {
    let bytes = B64
        .decode(one_str(a)?)
        .map_err(|e| a.arg_err(0, format!("is not valid base64: {e}")))?;
    String::from_utf8(bytes)
        .map(Val::String)
        .map_err(|_| a.err("the result of decoding the provided string is not valid UTF-8"))
}

/// JSON with sorted object keys and Go's escaping of `<`, `>`, `&`.
pub(super) fn jsonencode(a: &Args) -> Result<Val, String> {
    a.exactly(1)?;
    let json = match a.args[0].to_json() {
        Ok(j) => j,
        Err(_) => return Ok(super::unknown()),
    };
    let text = serde_json::to_string(&json).map_err(|e| a.err(e))?;
    Ok(Val::String(
        text.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029"),
    ))
}

pub(super) fn jsondecode(a: &Args) -> Result<Val, String> {
    let text = one_str(a)?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map(|j| Val::from_json(&j))
        .map_err(|e| a.arg_err(0, format!("is not valid JSON: {e}")))
}

/// URL query encoding (Go's `url.QueryEscape`): spaces become `+`.
pub(super) fn urlencode(a: &Args) -> Result<Val, String> {
    let mut out = String::new();
    for b in one_str(a)?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    Ok(Val::String(out))
}

/// `uuidv5(namespace, name)`: the name-based (SHA-1) UUID; the namespace is
/// `dns`, `url`, `oid`, `x500` or a UUID.
pub(super) fn uuidv5(a: &Args) -> Result<Val, String> {
    a.exactly(2)?;
    let ns_text = a.str(0)?;
    let ns_text = match ns_text.as_str() {
        "dns" => "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "url" => "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
        "oid" => "6ba7b812-9dad-11d1-80b4-00c04fd430c8",
        "x500" => "6ba7b814-9dad-11d1-80b4-00c04fd430c8",
        other => other,
    };
    let hex: String = ns_text.chars().filter(|c| *c != '-').collect();
    let ns: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| hex.get(2 * i..2 * i + 2))
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    if hex.len() != 32 || ns.len() != 16 {
        return Err(a.arg_err(
            0,
            format!("must be \"dns\", \"url\", \"oid\", \"x500\" or a UUID, got {ns_text:?}"),
        ));
    }
    let mut data = ns;
    data.extend_from_slice(a.str(1)?.as_bytes());
    let mut b = Hash::Sha1.bytes(&data);
    b.truncate(16);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(Val::String(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )))
}

/// CSV with a header row: a list of maps from column name to string.
pub(super) fn csvdecode(a: &Args) -> Result<Val, String> {
    let text = one_str(a)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| a.arg_err(0, format!("is not valid CSV: {e}")))?
        .iter()
        .map(String::from)
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| a.arg_err(0, format!("is not valid CSV: {e}")))?;
        let row: BTreeMap<String, Val> = headers
            .iter()
            .cloned()
            .zip(record.iter().map(Val::string))
            .collect();
        rows.push(Val::Map(row));
    }
    Ok(Val::List(rows))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::unknown;
    use crate::value::Val;

    #[test]
    fn hashes() {
        assert_eq!(
            t("md5", vec![s("hello world")]),
            Ok(s("5eb63bbbe01eeed093cb22bb8f5acdc3"))
        );
        assert_eq!(
            t("sha1", vec![s("hello world")]),
            Ok(s("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"))
        );
        assert_eq!(
            t("sha256", vec![s("hello world")]),
            Ok(s(
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
            ))
        );
        assert_eq!(
            t("base64sha256", vec![s("hello world")]),
            Ok(s("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="))
        );
        assert!(t("sha512", vec![s("")]).is_ok_and(|v| v.as_str().is_some_and(|h| h.len() == 128)));
        assert!(err("md5", vec![l(vec![])]).contains("md5: argument 1 must be a string"));
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(
            t("base64encode", vec![s("Hello World")]),
            Ok(s("SGVsbG8gV29ybGQ="))
        );
        assert_eq!(
            t("base64decode", vec![s("SGVsbG8gV29ybGQ=")]),
            Ok(s("Hello World"))
        );
        assert!(err("base64decode", vec![s("!!")]).contains("not valid base64"));
        assert!(err("base64decode", vec![s("/w==")]).contains("not valid UTF-8"));
    }

    #[test]
    fn json() {
        assert_eq!(
            t(
                "jsonencode",
                vec![m(&[
                    ("b", l(vec![n(1.0), Val::Bool(true)])),
                    ("a", s("<x>"))
                ])]
            ),
            Ok(s(r#"{"a":"\u003cx\u003e","b":[1,true]}"#))
        );
        assert_eq!(t("jsonencode", vec![l(vec![unk()])]), Ok(unknown()));
        assert_eq!(
            t("jsondecode", vec![s(r#"{"hello": [1, null]}"#)]),
            Ok(m(&[("hello", l(vec![n(1.0), Val::Null]))]))
        );
        assert!(err("jsondecode", vec![s("{")]).contains("not valid JSON"));
    }

    #[test]
    fn urlencode_query_style() {
        assert_eq!(
            t("urlencode", vec![s("Hello World!")]),
            Ok(s("Hello+World%21"))
        );
        assert_eq!(
            t("urlencode", vec![s("a/b?c=é")]),
            Ok(s("a%2Fb%3Fc%3D%C3%A9"))
        );
        assert!(err("urlencode", vec![]).contains("takes 1 argument"));
    }

    #[test]
    fn uuidv5_is_deterministic() {
        assert_eq!(
            t("uuidv5", vec![s("dns"), s("www.terraform.io")]),
            Ok(s("a5008fae-b28c-5ba5-96cd-82b4c53552d6"))
        );
        assert_eq!(
            t(
                "uuidv5",
                vec![
                    s("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
                    s("www.terraform.io")
                ]
            ),
            Ok(s("a5008fae-b28c-5ba5-96cd-82b4c53552d6"))
        );
        assert!(err("uuidv5", vec![s("nope"), s("x")]).contains("argument 1 must be"));
    }

    #[test]
    fn csv() {
        assert_eq!(
            t("csvdecode", vec![s("a,b\n1,2\n3,4\n")]),
            Ok(l(vec![
                m(&[("a", s("1")), ("b", s("2"))]),
                m(&[("a", s("3")), ("b", s("4"))])
            ]))
        );
        assert!(err("csvdecode", vec![s("a,b\n1,2,3\n")]).contains("not valid CSV"));
    }
}
