//! Alert e-mails over SMTP (RFC 5321): a small client for the relay the
//! operator names (`smtp://[user:password@]host[:port]`, AUTH PLAIN when a
//! user is given).
//!
//! The conversation is EHLO (HELO when the server does not know EHLO),
//! AUTH PLAIN, MAIL FROM, one RCPT TO per recipient, DATA with
//! dot-stuffing, QUIT; every step waits at most [`STEP_TIMEOUT`]. The
//! message is RFC 5322 plain text: From, To, Subject (RFC 2047 encoded when
//! not ASCII), Date, Message-ID, and a body in 7bit, or base64 when it is
//! not ASCII or has overlong lines. The relay is trusted to be on the
//! operator's network: no TLS (use a local relay that forwards with TLS).

use base64::Engine;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long one step (connect, a command and its reply) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A reply line longer than this ends the conversation (RFC 5321 allows 512).
const MAX_REPLY_LINE: usize = 4096;

/// Where alert e-mails go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// The sender address.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl SmtpSettings {
    /// Parses `smtp://[user:password@]host[:port]` (port 25 by default) with
    /// the sender `from`; the error says what is wrong with the URL.
    pub fn parse(url: &str, from: &str) -> Result<SmtpSettings, String> {
        let bad = |why: &str| format!("SMTP URL `{}`: {why}", redact(url));
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("smtp") => rest,
            Some((scheme, _)) => {
                return Err(bad(&format!(
                    "the scheme is `{scheme}`; only smtp:// is supported (plain SMTP to a relay on the operator's network), e.g. smtp://mail.internal:25"
                )))
            }
            None => {
                return Err(bad(
                    "expected smtp://[user:password@]host[:port], e.g. smtp://mail.internal:25",
                ))
            }
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(bad("a path or query is not allowed after host[:port]"));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                let user = percent_decode(user).map_err(|e| bad(&format!("the user name {e}")))?;
                let pass = percent_decode(pass).map_err(|e| bad(&format!("the password {e}")))?;
                if user.is_empty() {
                    return Err(bad("the user name before `@` is empty"));
                }
                (Some(user), Some(pass))
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 host must be closed with `]`"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("expected `:port` after the IPv6 host"))?,
                ),
            };
            (h.to_string(), port)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        let port = match port {
            None => 25,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => {
                    return Err(bad(&format!(
                        "the port `{p}` is not a number from 1 to 65535"
                    )))
                }
                Ok(n) => n,
            },
        };
        check_address(from).map_err(|e| format!("sender address: {e}"))?;
        Ok(SmtpSettings {
            host,
            port,
            from: from.to_string(),
            username,
            password,
        })
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((u, _)) => format!("{}{u}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("has a `%` not followed by two hex digits at {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "is not UTF-8 once percent-decoded".to_string())
}

/// An address SMTP can carry in `<…>`: `local@domain`, no spaces, angle
/// brackets or line breaks.
fn check_address(a: &str) -> Result<(), String> {
    let ok = a.len() <= 254
        && !a.is_empty()
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | '"'))
        && a.rsplit_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an e-mail address like name@example.com",
            a.escape_debug()
        ))
    }
}

/// Sends e-mails.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub settings: SmtpSettings,
}

/// One SMTP reply: its code and its text (lines joined by newlines).
struct Reply {
    code: u16,
    text: String,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text.replace('\n', " / "))
    }
}

struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    server: String,
}

impl Conn {
    async fn reply(&mut self, step: &str) -> Result<Reply, String> {
        let server = self.server.clone();
        let read = async {
            let mut text = String::new();
            loop {
                let mut line = String::new();
                let n = (&mut self.reader)
                    .take(MAX_REPLY_LINE as u64 + 1)
                    .read_line(&mut line)
                    .await
                    .map_err(|e| {
                        format!("SMTP {step} at {server}: reading the reply failed: {e}")
                    })?;
                if n == 0 {
                    return Err(format!(
                        "SMTP {step} at {server}: the server closed the connection without a reply"
                    ));
                }
                if n > MAX_REPLY_LINE {
                    return Err(format!(
                        "SMTP {step} at {server}: a reply line is longer than {MAX_REPLY_LINE} bytes"
                    ));
                }
                let line = line.trim_end_matches(['\r', '\n']);
                let code = line
                    .get(..3)
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|_| line.len() == 3 || matches!(line.as_bytes()[3], b' ' | b'-'))
                    .ok_or_else(|| {
                        format!(
                            "SMTP {step} at {server}: `{}` is not an SMTP reply (is this an SMTP server?)",
                            line.chars().take(80).collect::<String>()
                        )
                    })?;
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(line.get(4..).unwrap_or(""));
                if line.as_bytes().get(3) != Some(&b'-') {
                    return Ok(Reply { code, text });
                }
            }
        };
        tokio::time::timeout(STEP_TIMEOUT, read)
            .await
            .map_err(|_| {
                format!(
                    "SMTP {step} at {}: no reply within {} s",
                    self.server,
                    STEP_TIMEOUT.as_secs()
                )
            })?
    }

    async fn send(&mut self, step: &str, bytes: &[u8]) -> Result<(), String> {
        tokio::time::timeout(STEP_TIMEOUT, self.writer.write_all(bytes))
            .await
            .map_err(|_| {
                format!(
                    "SMTP {step} at {}: the server took no data within {} s",
                    self.server,
                    STEP_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| format!("SMTP {step} at {}: sending failed: {e}", self.server))
    }

    /// Sends `line` (CRLF added) and reads the reply; an error unless its
    /// code is one of `ok`.
    async fn command(&mut self, step: &str, line: &str, ok: &[u16]) -> Result<Reply, String> {
        self.send(step, format!("{line}\r\n").as_bytes()).await?;
        let r = self.reply(step).await?;
        if ok.contains(&r.code) {
            Ok(r)
        } else {
            Err(format!(
                "SMTP {step} at {}: the server answered `{r}`",
                self.server
            ))
        }
    }
}

impl Mailer {
    /// A mailer for `settings` (nothing is contacted until [`Mailer::send`]).
    pub fn new(settings: SmtpSettings) -> Mailer {
        Mailer { settings }
    }

    /// Sends one plain-text message to `to`; the error names the step and
    /// the server's reply. When the server refuses some recipients, the
    /// message still goes to the others and the error names those refused.
    pub async fn send(&self, to: &[String], subject: &str, body: &str) -> Result<(), String> {
        if to.is_empty() {
            return Err("no recipient to send the e-mail to".into());
        }
        for a in to {
            check_address(a).map_err(|e| format!("recipient: {e}"))?;
        }
        let s = &self.settings;
        let server = format!("{}:{}", s.host, s.port);
        let stream = tokio::time::timeout(
            STEP_TIMEOUT,
            TcpStream::connect((s.host.as_str(), s.port)),
        )
        .await
        .map_err(|_| {
            format!(
                "SMTP connect to {server}: no connection within {} s",
                STEP_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("SMTP connect to {server} failed: {e} (is the relay running and the smtp:// URL right?)"))?;
        let (r, w) = stream.into_split();
        let mut c = Conn {
            reader: BufReader::new(r),
            writer: w,
            server,
        };
        let greeting = c.reply("greeting").await?;
        if greeting.code != 220 {
            return Err(format!(
                "SMTP greeting at {}: the server answered `{greeting}`",
                c.server
            ));
        }
        let domain = s
            .from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost");
        let ehlo = match c.command("EHLO", &format!("EHLO {domain}"), &[250]).await {
            Ok(r) => Some(r),
            Err(_) => {
                c.command("HELO", &format!("HELO {domain}"), &[250]).await?;
                None
            }
        };
        if let (Some(user), pass) = (&s.username, &s.password) {
            let offers_plain = ehlo.as_ref().is_some_and(|r| {
                r.text.lines().any(|l| {
                    let l = l.to_ascii_uppercase();
                    l.starts_with("AUTH") && l.split([' ', '=']).any(|m| m == "PLAIN")
                })
            });
            if !offers_plain {
                return Err(format!(
                    "SMTP AUTH at {}: the URL names user `{user}` but the server does not offer AUTH PLAIN here (servers often offer it only after STARTTLS, which Vigil does not speak); use a relay that accepts Vigil without a password, or one that offers AUTH PLAIN",
                    c.server
                ));
            }
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("\0{user}\0{}", pass.as_deref().unwrap_or("")));
            c.command("AUTH PLAIN", &format!("AUTH PLAIN {token}"), &[235])
                .await
                .map_err(|e| format!("{e} (check the user and password of the smtp:// URL)"))?;
        }
        c.command("MAIL FROM", &format!("MAIL FROM:<{}>", s.from), &[250])
            .await?;
        let mut refused = Vec::new();
        for a in to {
            if let Err(e) = c
                .command("RCPT TO", &format!("RCPT TO:<{a}>"), &[250, 251])
                .await
            {
                refused.push(format!("{a} ({e})"));
            }
        }
        if refused.len() == to.len() {
            let _ = c.command("QUIT", "QUIT", &[221]).await;
            return Err(format!(
                "every recipient was refused: {}",
                refused.join("; ")
            ));
        }
        c.command("DATA", "DATA", &[354]).await?;
        let message = message(&s.from, to, subject, body, chrono::Utc::now());
        c.send("DATA", &dot_stuff(&message)).await?;
        let r = c.reply("end of DATA").await?;
        if r.code != 250 {
            return Err(format!(
                "SMTP end of DATA at {}: the server refused the message: `{r}`",
                c.server
            ));
        }
        let _ = c.command("QUIT", "QUIT", &[221]).await;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "sent, but these recipients were refused: {}",
                refused.join("; ")
            ))
        }
    }
}

/// A header value on one line (no CR/LF can smuggle another header in),
/// RFC 2047 encoded when it is not ASCII.
fn header_text(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    if one_line.is_ascii() {
        one_line
    } else {
        // Encoded words of at most 75 characters, split on char boundaries.
        let mut words = Vec::new();
        let mut chunk = String::new();
        for c in one_line.chars() {
            if chunk.len() + c.len_utf8() > 42 {
                words.push(std::mem::take(&mut chunk));
            }
            chunk.push(c);
        }
        if !chunk.is_empty() {
            words.push(chunk);
        }
        words
            .iter()
            .map(|w| {
                format!(
                    "=?UTF-8?B?{}?=",
                    base64::engine::general_purpose::STANDARD.encode(w)
                )
            })
            .collect::<Vec<_>>()
            .join("\r\n ")
    }
}

/// The RFC 5322 message with CRLF line ends (before dot-stuffing).
fn message(
    from: &str,
    to: &[String],
    subject: &str,
    body: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let mut m = String::with_capacity(body.len() + 512);
    m.push_str(&format!("From: {from}\r\n"));
    m.push_str(&format!("To: {}\r\n", to.join(", ")));
    m.push_str(&format!("Subject: {}\r\n", header_text(subject)));
    m.push_str(&format!("Date: {}\r\n", now.to_rfc2822()));
    m.push_str(&format!(
        "Message-ID: <{}@{domain}>\r\n",
        uuid::Uuid::new_v4()
    ));
    m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");
    let body = body.replace("\r\n", "\n");
    let plain = body.is_ascii() && body.lines().all(|l| l.len() <= 998);
    if plain {
        m.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        for line in body.lines() {
            m.push_str(line);
            m.push_str("\r\n");
        }
    } else {
        m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
        for chunk in encoded.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            m.push_str("\r\n");
        }
    }
    m
}

/// DATA's transparency (RFC 5321 4.5.2): a line starting with `.` gets
/// another; then the end marker `.`.
fn dot_stuff(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_credentials() {
        let s = SmtpSettings::parse("smtp://relay.internal", "vigil@example.com").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("relay.internal", 25));
        assert_eq!(s.username, None);
        let s = SmtpSettings::parse("smtp://al%40ice:p%3Ass@[::1]:2525/", "v@e.com").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("::1", 2525));
        assert_eq!(s.username.as_deref(), Some("al@ice"));
        assert_eq!(s.password.as_deref(), Some("p:ss"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let cases = [
            ("http://relay", "only smtp://"),
            ("relay.internal:25", "expected smtp://"),
            ("smtp://", "host is missing"),
            ("smtp://relay:smtp", "port `smtp`"),
            ("smtp://relay:0", "port `0`"),
            ("smtp://relay:70000", "port `70000`"),
            ("smtp://relay/path", "path"),
            ("smtp://:secret@relay", "user name"),
            ("smtp://u:%zz@relay", "password"),
        ];
        for (url, want) in cases {
            let e = SmtpSettings::parse(url, "v@e.com").unwrap_err();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("secret") || !url.contains("secret"), "{e}");
        }
        let e = SmtpSettings::parse("smtp://relay", "not an address").unwrap_err();
        assert!(e.contains("sender"), "{e}");
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        let e = SmtpSettings::parse("smtp://u:hunter2@relay:x", "v@e.com").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("u:***@relay:x"), "{e}");
    }

    #[test]
    fn messages_are_stuffed_and_headers_stay_on_one_line() {
        let m = message(
            "vigil@example.com",
            &["a@example.com".into(), "b@example.com".into()],
            "Integration 7 failed\r\nBcc: evil@example.com",
            ".starts with a dot\n.\nend",
            chrono::DateTime::from_timestamp(0, 0).unwrap(),
        );
        assert!(
            m.contains("Subject: Integration 7 failed  Bcc: evil@example.com\r\n"),
            "{m}"
        );
        assert!(m.contains("To: a@example.com, b@example.com\r\n"));
        assert!(
            m.contains("Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"),
            "{m}"
        );
        let stuffed = String::from_utf8(dot_stuff(&m)).unwrap();
        assert!(
            stuffed.contains("\r\n..starts with a dot\r\n..\r\nend\r\n.\r\n"),
            "{stuffed}"
        );
        let encoded = header_text("Échec de l’intégration « S3 » — accès refusé au compartiment");
        assert!(encoded.starts_with("=?UTF-8?B?"), "{encoded}");
        assert!(encoded.split("\r\n ").all(|w| w.len() <= 75), "{encoded}");
    }
}
