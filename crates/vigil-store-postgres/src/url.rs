//! Keeping passwords out of messages.

/// The URL with its password (in the user info or a `password=` parameter)
/// replaced by `***`.
pub fn redact(url: &str) -> String {
    let mut out = match url.find("://") {
        Some(scheme_end) => {
            let rest_start = scheme_end + 3;
            let rest = &url[rest_start..];
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            match authority.rfind('@') {
                Some(at) => {
                    let userinfo = &authority[..at];
                    let user = match userinfo.find(':') {
                        Some(colon) => format!("{}:***", &userinfo[..colon]),
                        None => userinfo.to_string(),
                    };
                    format!("{}{}@{}", &url[..rest_start], user, &rest[at + 1..])
                }
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    // `password=` parameters, in a query string or a key/value string.
    let mut search_from = 0;
    while let Some(found) = out[search_from..].to_ascii_lowercase().find("password=") {
        let value_start = search_from + found + "password=".len();
        let value_end = out[value_start..]
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace())
            .map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "***");
        search_from = value_start + 3;
    }
    out
}

/// The password of the URL, as written and percent-decoded.
fn passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                found.push(authority[colon + 1..at].to_string());
            }
        }
    }
    let lower = url.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password=") {
        let start = from + i + "password=".len();
        let end = url[start..]
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace())
            .map_or(url.len(), |j| start + j);
        found.push(url[start..end].to_string());
        from = end;
    }
    let decoded: Vec<String> = found.iter().map(|p| percent_decode(p)).collect();
    found.extend(decoded);
    found.retain(|p| !p.is_empty());
    found
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `message` with any password of `url` replaced by `***`.
pub fn scrub(url: &str, message: &str) -> String {
    let mut out = redact_in(message, url);
    for p in passwords(url) {
        out = out.replace(&p, "***");
    }
    out
}

/// Replaces the URL itself, should a message quote it, by its redacted form.
fn redact_in(message: &str, url: &str) -> String {
    message.replace(url, &redact(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://vigil:s3cr%40t@db.example:5432/vigil?sslmode=require"),
            "postgres://vigil:***@db.example:5432/vigil?sslmode=require"
        );
        assert_eq!(
            redact("postgres://vigil@127.0.0.1:55432/postgres"),
            "postgres://vigil@127.0.0.1:55432/postgres"
        );
        assert_eq!(
            redact("postgres://db/vigil?user=v&password=hunter2&sslmode=disable"),
            "postgres://db/vigil?user=v&password=***&sslmode=disable"
        );
        let url = "postgres://vigil:s3cr%40t@db/vigil";
        let msg = scrub(
            url,
            "failed for s3cr@t and s3cr%40t at postgres://vigil:s3cr%40t@db/vigil",
        );
        assert!(!msg.contains("s3cr"), "{msg}");
    }
}
