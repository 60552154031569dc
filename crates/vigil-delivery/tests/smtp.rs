//! The SMTP client against a real server (`VIGIL_TEST_SMTP_URL`, an
//! aiosmtpd writing every message into the maildir `VIGIL_TEST_MAILDIR`):
//! the message arrives with its headers, recipients and body intact; a
//! refused port, a bad URL and an AUTH the server does not offer fail with
//! the step and the reason. A recipient refused by the server needs a
//! server that refuses: a scripted one here, since aiosmtpd accepts all.

mod common;

use base64::Engine;
use common::*;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vigil_delivery::smtp::{Mailer, SmtpSettings};

fn smtp() -> (String, PathBuf) {
    (
        service("VIGIL_TEST_SMTP_URL", "an SMTP server"),
        PathBuf::from(service("VIGIL_TEST_MAILDIR", "the SMTP server's maildir")).join("new"),
    )
}

/// The message delivered to `rcpt`, waiting a little for the server to
/// write it.
async fn delivered(maildir: &PathBuf, rcpt: &str) -> String {
    for _ in 0..50 {
        if let Ok(dir) = std::fs::read_dir(maildir) {
            for f in dir.flatten() {
                if let Ok(text) = std::fs::read_to_string(f.path()) {
                    if text.contains(rcpt) {
                        return text;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message to {rcpt} in {}", maildir.display());
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[tokio::test]
async fn a_message_arrives_with_its_headers_and_body() {
    let (url, maildir) = smtp();
    let a = format!("{}@example.com", unique("alert-a"));
    let b = format!("{}@example.com", unique("alert-b"));
    let mailer = Mailer::new(SmtpSettings::parse(&url, "vigil@vigil.example").unwrap());
    let body =
        "Integration 7 (VM) cannot write to bucket acme.\n.A line with a leading dot\n.\nThe end.";
    mailer
        .send(
            &[a.clone(), b.clone()],
            "Vigil: S3 integration 7 in error",
            body,
        )
        .await
        .unwrap();
    let m = delivered(&maildir, &a).await;
    assert_eq!(
        header(&m, "Subject"),
        Some("Vigil: S3 integration 7 in error")
    );
    assert_eq!(header(&m, "From"), Some("vigil@vigil.example"));
    let to = header(&m, "To").unwrap();
    assert!(to.contains(&a) && to.contains(&b), "{to}");
    assert!(
        header(&m, "Date").is_some_and(|d| d.ends_with("+0000")),
        "{m}"
    );
    let id = header(&m, "Message-ID").unwrap();
    assert!(
        id.starts_with('<') && id.ends_with("@vigil.example>"),
        "{id}"
    );
    // aiosmtpd records the envelope recipients.
    let rcpt = header(&m, "X-RcptTo").unwrap();
    assert!(rcpt.contains(&a) && rcpt.contains(&b), "{rcpt}");
    // Dot-stuffing was undone by the server: the body is as sent.
    let text = m.split_once("\n\n").unwrap().1.replace("\r\n", "\n");
    assert_eq!(text.trim_end(), body);
}

#[tokio::test]
async fn non_ascii_subjects_and_bodies_are_encoded() {
    let (url, maildir) = smtp();
    let a = format!("{}@example.com", unique("alert-utf8"));
    let mailer = Mailer::new(SmtpSettings::parse(&url, "vigil@vigil.example").unwrap());
    let subject = "Intégration S3 « 7 » en erreur";
    let body = "Le rôle n’a pas le droit s3:PutObject — corrigez la politique.";
    mailer
        .send(std::slice::from_ref(&a), subject, body)
        .await
        .unwrap();
    let m = delivered(&maildir, &a).await;
    let s = header(&m, "Subject").unwrap();
    let word = s
        .strip_prefix("=?UTF-8?B?")
        .and_then(|w| w.split("?=").next())
        .unwrap();
    let first = base64::engine::general_purpose::STANDARD
        .decode(word)
        .unwrap();
    assert!(
        subject.starts_with(std::str::from_utf8(&first).unwrap()),
        "{s}"
    );
    assert_eq!(header(&m, "Content-Transfer-Encoding"), Some("base64"));
    let encoded: String = m.split_once("\n\n").unwrap().1.split_whitespace().collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), body);
}

#[tokio::test]
async fn a_refused_port_names_the_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer = Mailer::new(
        SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}"), "vigil@vigil.example").unwrap(),
    );
    let e = mailer
        .send(&["x@example.com".into()], "s", "b")
        .await
        .unwrap_err();
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(e.contains("connect"), "{e}");
}

#[tokio::test]
async fn bad_urls_and_addresses_are_refused_before_connecting() {
    let e = SmtpSettings::parse("smtps://relay:465", "vigil@vigil.example").unwrap_err();
    assert!(e.contains("only smtp://"), "{e}");
    let e = SmtpSettings::parse("smtp://relay:port", "vigil@vigil.example").unwrap_err();
    assert!(e.contains("port `port`"), "{e}");
    let (url, _) = smtp();
    let mailer = Mailer::new(SmtpSettings::parse(&url, "vigil@vigil.example").unwrap());
    let e = mailer
        .send(&["two words@example.com".into()], "s", "b")
        .await
        .unwrap_err();
    assert!(e.contains("two words@example.com"), "{e}");
    let e = mailer.send(&[], "s", "b").await.unwrap_err();
    assert!(e.contains("no recipient"), "{e}");
}

#[tokio::test]
async fn auth_the_server_does_not_offer_is_explained() {
    let (url, _) = smtp();
    let with_user = url.replacen("smtp://", "smtp://vigil:secret@", 1);
    let mailer = Mailer::new(SmtpSettings::parse(&with_user, "vigil@vigil.example").unwrap());
    let e = mailer
        .send(&["x@example.com".into()], "s", "b")
        .await
        .unwrap_err();
    assert!(e.contains("AUTH"), "{e}");
    assert!(e.contains("does not offer"), "{e}");
    assert!(!e.contains("secret"), "{e}");
}

/// A server that answers from a script, for the replies aiosmtpd never
/// gives: it refuses `refuse@…` and records what it was sent.
async fn scripted() -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        let mut seen = Vec::new();
        w.write_all(b"220-scripted.example ESMTP\r\n220 hello\r\n")
            .await
            .unwrap();
        let mut in_data = false;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            let line = line.trim_end().to_string();
            seen.push(line.clone());
            let answer: &[u8] = if in_data {
                if line == "." {
                    in_data = false;
                    b"250 queued\r\n"
                } else {
                    continue;
                }
            } else if line.starts_with("EHLO") {
                b"250-scripted.example\r\n250-8BITMIME\r\n250 AUTH LOGIN PLAIN\r\n"
            } else if line.starts_with("AUTH PLAIN") {
                b"235 2.7.0 ok\r\n"
            } else if line.starts_with("RCPT TO:<refuse") {
                b"550 5.1.1 no such mailbox\r\n"
            } else if line == "DATA" {
                in_data = true;
                b"354 go ahead\r\n"
            } else if line == "QUIT" {
                w.write_all(b"221 bye\r\n").await.unwrap();
                break;
            } else {
                b"250 ok\r\n"
            };
            w.write_all(answer).await.unwrap();
        }
        seen
    });
    (port, task)
}

#[tokio::test]
async fn auth_plain_and_a_refused_recipient() {
    let (port, task) = scripted().await;
    let mailer = Mailer::new(
        SmtpSettings::parse(
            &format!("smtp://vigil:s%40cret@127.0.0.1:{port}"),
            "vigil@vigil.example",
        )
        .unwrap(),
    );
    let e = mailer
        .send(
            &["ok@example.com".into(), "refuse@example.com".into()],
            "s",
            "body",
        )
        .await
        .unwrap_err();
    assert!(
        e.contains("refuse@example.com") && e.contains("550 5.1.1 no such mailbox"),
        "{e}"
    );
    assert!(e.starts_with("sent, but"), "the others got it: {e}");
    let seen = task.await.unwrap();
    let token = base64::engine::general_purpose::STANDARD.encode("\0vigil\0s@cret");
    assert!(seen.contains(&format!("AUTH PLAIN {token}")), "{seen:?}");
    assert!(
        seen.contains(&"RCPT TO:<ok@example.com>".to_string()),
        "{seen:?}"
    );
    assert!(seen.contains(&"body".to_string()), "{seen:?}");
}
