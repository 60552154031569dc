//! Workarounds for gaps of the moto AWS emulator, each harmless against AWS.
//!
//! moto answers GetBucketVersioning with a `<GetBucketVersioningResponse>`
//! root element where S3 sends `<VersioningConfiguration>`, and the SDK's
//! parser rejects it. [`FixVersioningRoot`] renames that root before the SDK
//! parses the reply; a reply from S3 itself passes through unchanged.
//!
//! S3 Control names the account in the host name (`<account>.s3-control…`);
//! against an emulator's endpoint that becomes `<account>.127.0.0.1`, which
//! does not resolve. [`DropAccountHostPrefix`] removes that first label again;
//! it is attached only when an endpoint override is set (the account id also
//! travels in the `x-amz-account-id` header, which moto reads).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use bytes::Bytes;
use http_body::{Body, Frame};
use std::pin::Pin;
use std::task::{Context, Poll};

const WRONG: &str = "GetBucketVersioningResponse";
const RIGHT: &str = "VersioningConfiguration";

/// Renames moto's root element of a GetBucketVersioning reply.
pub fn fix_versioning_reply(body: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(body) {
        Ok(text) if text.contains(&format!("<{WRONG}")) => text
            .replace(&format!("<{WRONG}"), &format!("<{RIGHT}"))
            .replace(&format!("</{WRONG}>"), &format!("</{RIGHT}>"))
            .into_bytes(),
        _ => body.to_vec(),
    }
}

/// The interceptor to attach to GetBucketVersioning calls.
#[derive(Debug, Default)]
pub struct FixVersioningRoot;

impl Intercept for FixVersioningRoot {
    fn name(&self) -> &'static str {
        "FixVersioningRoot"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = std::mem::replace(context.response_mut().body_mut(), SdkBody::taken());
        *context.response_mut().body_mut() = SdkBody::from_body_1_x(Rewrite {
            inner: body,
            buf: Vec::new(),
            done: false,
        });
        Ok(())
    }
}

/// Removes a leading account id label from an S3 Control request's host:
/// `http://123456789012.127.0.0.1:5000/v20180820/…` → `http://127.0.0.1:5000/v20180820/…`.
pub fn drop_account_label(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    match rest.split_once('.') {
        // An account id has twelve digits; `127` of `127.0.0.1` is no account.
        Some((label, host)) if label.len() == 12 && label.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{scheme}://{host}")
        }
        _ => uri.to_string(),
    }
}

/// The interceptor to attach to S3 Control calls made against an emulator.
#[derive(Debug, Default)]
pub struct DropAccountHostPrefix;

impl Intercept for DropAccountHostPrefix {
    fn name(&self) -> &'static str {
        "DropAccountHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let fixed = drop_account_label(request.uri());
        request.set_uri(fixed)?;
        request.headers_mut().remove("host");
        Ok(())
    }
}

/// A body that reads the whole reply, then yields it fixed as one frame. The
/// replies it wraps are a few hundred bytes.
struct Rewrite {
    inner: SdkBody,
    buf: Vec<u8>,
    done: bool,
}

impl Body for Rewrite {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    self.done = true;
                    let fixed = fix_versioning_reply(&self.buf);
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(fixed)))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn motos_root_element_is_renamed() {
        let moto = br#"<?xml version="1.0" encoding="utf-8"?>
<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></GetBucketVersioningResponse>"#;
        let fixed = String::from_utf8(fix_versioning_reply(moto)).unwrap();
        assert!(fixed.contains("<VersioningConfiguration xmlns="));
        assert!(fixed.ends_with("</VersioningConfiguration>"));
        let empty =
            br#"<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#;
        assert!(String::from_utf8(fix_versioning_reply(empty))
            .unwrap()
            .starts_with("<VersioningConfiguration "));
    }

    #[test]
    fn the_account_label_is_dropped_from_the_host_only() {
        assert_eq!(
            drop_account_label(
                "http://123456789012.127.0.0.1:5077/v20180820/configuration/publicAccessBlock"
            ),
            "http://127.0.0.1:5077/v20180820/configuration/publicAccessBlock"
        );
        assert_eq!(
            drop_account_label("http://localhost:5077/v20180820/x"),
            "http://localhost:5077/v20180820/x"
        );
        assert_eq!(
            drop_account_label("http://127.0.0.1:5077/v20180820/x"),
            "http://127.0.0.1:5077/v20180820/x"
        );
        assert_eq!(drop_account_label("not a uri"), "not a uri");
    }

    #[test]
    fn replies_from_s3_pass_through_unchanged() {
        let s3 = br#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></VersioningConfiguration>"#;
        assert_eq!(fix_versioning_reply(s3), s3.to_vec());
    }
}
