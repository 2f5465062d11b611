//! Signed raw requests for the calls object_store does not offer: HEAD with user metadata
//! (backups of earlier versions carry their SHA-1 there), bucket creation and checks,
//! ListMultipartUploads and AbortMultipartUpload by id. Signed with object_store's own SigV4
//! [`AwsAuthorizer`].

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use object_store::aws::AwsAuthorizer;
use object_store::client::HttpRequest;
use quick_xml::events::Event;

use super::S3Store;
use crate::error::{Error, Result, StoreFailure};
use crate::store::ObjectInfo;

/// How long a request is retried (transport errors, 5xx, 408, 429): long enough for a busy or
/// degraded cluster (a node just lost) to answer again, with backoff doubling from 0.4 s to 4 s.
const RETRY_FOR: Duration = Duration::from_secs(20);

impl S3Store {
    /// Sends one signed request, retrying transport errors and 5xx answers with backoff.
    pub(super) async fn send(
        &self,
        method: http::Method,
        url: url::Url,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<(http::HeaderMap, Bytes)> {
        let what = format!("{method} {}", url.path());
        let mut last = StoreFailure::Cause("no attempt made".into());
        let started = std::time::Instant::now();
        for attempt in 0u32.. {
            if attempt > 0 {
                if started.elapsed() > RETRY_FOR {
                    break;
                }
                let backoff =
                    Duration::from_millis(200 << attempt.min(5)).min(Duration::from_secs(4));
                tokio::time::sleep(backoff).await;
            }
            let mut req: HttpRequest = http::Request::builder()
                .method(method.clone())
                .uri(url.as_str())
                .body(body.clone().into())
                .map_err(|e| Error::store(&what, e))?;
            for (k, v) in headers {
                let value = http::HeaderValue::from_str(v).map_err(|e| Error::store(&what, e))?;
                req.headers_mut().insert(
                    http::HeaderName::from_bytes(k.as_bytes())
                        .map_err(|e| Error::store(&what, e))?,
                    value,
                );
            }
            AwsAuthorizer::new(&self.credential, "s3", &self.settings.region)
                .authorize(&mut req, None);
            let mut r = self
                .http
                .request(method.clone(), url.clone())
                .body(body.clone());
            for (k, v) in req.headers() {
                r = r.header(k, v);
            }
            match r.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let bytes = match resp.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            // An answer cut short: a transport error, retried.
                            last = StoreFailure::Cause(e.into());
                            continue;
                        }
                    };
                    if status.is_success() {
                        // S3 may answer 200 with an <Error> body to a copy.
                        if root_element(&bytes).as_deref() == Some("Error") {
                            last = s3_answer(status, &bytes);
                            continue;
                        }
                        return Ok((headers, bytes));
                    }
                    last = s3_answer(status, &bytes);
                    let busy = status == http::StatusCode::TOO_MANY_REQUESTS
                        || status == http::StatusCode::REQUEST_TIMEOUT;
                    if !status.is_server_error() && !busy {
                        break;
                    }
                }
                Err(e) => last = StoreFailure::Cause(e.into()),
            }
        }
        Err(Error::Store { what, source: last })
    }

    /// Creates the bucket (tests, first-time setup); an existing bucket of ours is fine.
    pub async fn create_bucket(&self) -> Result<()> {
        let url = url::Url::parse(&format!(
            "{}/{}",
            self.settings.endpoint(),
            self.settings.bucket
        ))
        .map_err(|e| Error::store("create bucket", e))?;
        match self.send(http::Method::PUT, url, &[], Bytes::new()).await {
            Err(e)
                if e.store_answer()
                    .is_some_and(|(_, c)| c == Some("BucketAlreadyOwnedByYou")) =>
            {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    /// Checks that the bucket exists and the credentials are accepted (HEAD bucket).
    pub async fn head_bucket(&self) -> Result<()> {
        self.head_bucket_with(true).await
    }

    /// As [`Self::head_bucket`]; unless `strict`, a refusal (403: a key allowed to read
    /// objects but not HeadBucket) passes, and only a missing bucket or host fails.
    pub async fn head_bucket_with(&self, strict: bool) -> Result<()> {
        let url = url::Url::parse(&format!(
            "{}/{}",
            self.settings.endpoint(),
            self.settings.bucket
        ))
        .map_err(|e| Error::store("check bucket", e))?;
        match self.send(http::Method::HEAD, url, &[], Bytes::new()).await {
            Ok(_) => Ok(()),
            Err(Error::Store {
                source: StoreFailure::Answer { status: 403, .. },
                ..
            }) if !strict => Ok(()),
            Err(Error::Store { source, .. }) => Err(Error::Refused(format!(
                "s3://{} cannot be used ({}): {}",
                self.settings.bucket,
                self.settings.endpoint(),
                match &source {
                    StoreFailure::Answer { status: 404, .. } => "the bucket does not exist".into(),
                    StoreFailure::Answer { status: 403, .. } => format!(
                        "the credentials are rejected (access key {}): check s3_access_key \
                         and s3_secret_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                        masked(self.settings.access_key.expose())
                    ),
                    StoreFailure::Cause(_) => format!(
                        "cannot reach {}: {}: is the S3 server up, and conf s3_host right?",
                        self.settings.host,
                        crate::error::report_lines(&source)
                            .last()
                            .cloned()
                            .unwrap_or_default()
                    ),
                    other => crate::error::report_lines(other).join(": "),
                }
            ))),
            Err(e) => Err(e),
        }
    }

    /// An object's size, time and user metadata (`x-amz-meta-*`, names without the prefix),
    /// or None when it does not exist.
    pub async fn head_object(&self, key: &str) -> Result<Option<ObjectInfo>> {
        match self
            .send(http::Method::HEAD, self.url(key, &[])?, &[], Bytes::new())
            .await
        {
            Ok((headers, _)) => {
                let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                Ok(Some(ObjectInfo {
                    key: key.to_string(),
                    size: text("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    modified: text("last-modified")
                        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
                        .map(SystemTime::from)
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                    metadata: headers
                        .iter()
                        .filter_map(|(k, v)| {
                            let name = k.as_str().strip_prefix("x-amz-meta-")?;
                            Some((name.to_string(), v.to_str().ok()?.to_string()))
                        })
                        .collect(),
                }))
            }
            Err(e) if e.store_answer().is_some_and(|(status, _)| status == 404) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// An error answer: its status, and the code and message of its XML body.
fn s3_answer(status: http::StatusCode, body: &[u8]) -> StoreFailure {
    StoreFailure::Answer {
        status: status.as_u16(),
        code: xml_text(body, "Code"),
        message: xml_text(body, "Message").unwrap_or_default(),
    }
}

/// The name of the root element of an XML body, if any.
fn root_element(body: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) | Err(_) => return None,
            _ => buf.clear(),
        }
    }
}

/// Texts of every element named `tag` (entity references resolved).
pub(super) fn xml_all(body: &[u8], tag: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                current = (e.local_name().as_ref() == tag.as_bytes()).then(String::new);
            }
            Ok(Event::Text(t)) => {
                if let (Some(c), Ok(s)) = (current.as_mut(), t.decode()) {
                    c.push_str(&s);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some(c) = current.as_mut() {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    let resolved = match name.as_str() {
                        "quot" => Some('"'),
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "apos" => Some('\''),
                        _ => r.resolve_char_ref().ok().flatten(),
                    };
                    if let Some(ch) = resolved {
                        c.push(ch);
                    }
                }
            }
            Ok(Event::End(_)) => {
                if let Some(c) = current.take() {
                    out.push(c);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

/// Text of the first element named `tag`.
fn xml_text(body: &[u8], tag: &str) -> Option<String> {
    xml_all(body, tag).into_iter().next()
}

/// An access key id shown in an error: its ends, enough to tell which key was used.
fn masked(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 12 {
        return format!("of {} characters", chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_xml_fields() {
        let body = br#"<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k/x</Key><UploadId>abc+/=</UploadId></InitiateMultipartUploadResult>"#;
        assert_eq!(xml_text(body, "UploadId").unwrap(), "abc+/=");
        let list = br#"<ListMultipartUploadsResult><Upload><Key>a</Key><UploadId>1</UploadId></Upload><Upload><Key>b</Key><UploadId>2</UploadId></Upload></ListMultipartUploadsResult>"#;
        assert_eq!(xml_all(list, "Key"), vec!["a", "b"]);
        assert_eq!(
            root_element(br#"<?xml version="1.0"?><Error><Code>X</Code></Error>"#).unwrap(),
            "Error"
        );
        assert_eq!(
            xml_text(
                br#"<CopyPartResult><ETag>&quot;e1&quot;</ETag></CopyPartResult>"#,
                "ETag"
            )
            .unwrap(),
            "\"e1\""
        );
    }
}
