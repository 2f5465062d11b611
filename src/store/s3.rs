//! S3-compatible storage: an `object_store` client for uploads, downloads and listings, plus
//! signed raw requests for the calls object_store does not offer: a server-side multipart
//! copy that sets `x-amz-meta-sha1` (the SHA-1 of a streamed upload is only known at its end,
//! while S3 takes metadata when an upload starts), ListMultipartUploads and
//! AbortMultipartUpload by id. Raw requests are signed with object_store's own SigV4
//! [`AwsAuthorizer`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsAuthorizer, AwsCredential};
use object_store::client::HttpRequest;
use object_store::{BackoffConfig, RetryConfig};
use quick_xml::events::Event;

use crate::config::S3Settings;
use crate::error::{Error, Result};

/// Largest range copied by one UploadPartCopy (S3 allows 5 GiB).
pub const COPY_PART_SIZE: u64 = 1 << 30;
const ATTEMPTS: u32 = 4;

/// A bucket on an S3-compatible server.
pub struct S3Store {
    /// The object_store client.
    pub store: Arc<AmazonS3>,
    http: reqwest::Client,
    settings: S3Settings,
    credential: AwsCredential,
}

/// A multipart upload in progress, as ListMultipartUploads shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
}

impl S3Store {
    /// A client for the configured bucket (path-style addressing, http or https).
    pub fn new(s: &S3Settings) -> Result<Self> {
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
        };
        let store = AmazonS3Builder::new()
            .with_endpoint(s.endpoint())
            .with_allow_http(s.scheme == "http")
            .with_virtual_hosted_style_request(false)
            .with_bucket_name(&s.bucket)
            .with_region(&s.region)
            .with_access_key_id(s.access_key.expose())
            .with_secret_access_key(s.secret_key.expose())
            .with_retry(retry)
            .build()
            .map_err(|e| Error::store(format!("s3 client for {}", s.endpoint()), e))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| Error::store("http client", e))?;
        Ok(S3Store {
            store: Arc::new(store),
            http,
            credential: AwsCredential {
                key_id: s.access_key.expose().to_string(),
                secret_key: s.secret_key.expose().to_string(),
                token: None,
            },
            settings: s.clone(),
        })
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.settings.bucket
    }

    fn url(&self, key: &str, query: &[(&str, &str)]) -> Result<url::Url> {
        let mut u = url::Url::parse(&format!(
            "{}/{}/{}",
            self.settings.endpoint(),
            self.settings.bucket,
            key
        ))
        .map_err(|e| Error::store(format!("url for {key}"), e))?;
        if !query.is_empty() {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                if v.is_empty() {
                    q.append_key_only(k);
                } else {
                    q.append_pair(k, v);
                }
            }
        }
        Ok(u)
    }

    /// Sends one signed request, retrying transport errors and 5xx answers with backoff.
    async fn send(
        &self,
        method: http::Method,
        url: url::Url,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<(http::HeaderMap, Bytes)> {
        let what = format!("{method} {}", url.path());
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
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
                    let bytes = resp.bytes().await.unwrap_or_default();
                    if status.is_success() {
                        // S3 may answer 200 with an <Error> body to a copy.
                        if root_element(&bytes).as_deref() == Some("Error") {
                            last = s3_error_text(status, &bytes);
                            continue;
                        }
                        return Ok((headers, bytes));
                    }
                    last = s3_error_text(status, &bytes);
                    if !status.is_server_error() {
                        break;
                    }
                }
                Err(e) => last = format!("{e}"),
            }
        }
        Err(Error::store(what, last))
    }

    /// Copies `src` (of `size` bytes) to `dst` server-side, giving `dst` the user metadata
    /// `meta` (e.g. `sha1`). Multipart copy, so any size works. On failure the copy's own
    /// multipart upload is aborted; `dst` does not appear.
    pub async fn copy_with_metadata(
        &self,
        src: &str,
        dst: &str,
        size: u64,
        meta: &BTreeMap<String, String>,
        part_size: u64,
    ) -> Result<()> {
        let headers: Vec<(String, String)> = meta
            .iter()
            .map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone()))
            .collect();
        let hdr_refs: Vec<(&str, String)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let (_, body) = self
            .send(
                http::Method::POST,
                self.url(dst, &[("uploads", "")])?,
                &hdr_refs,
                Bytes::new(),
            )
            .await?;
        let upload_id = xml_text(&body, "UploadId").ok_or_else(|| {
            Error::store(format!("create upload of {dst}"), "no UploadId in answer")
        })?;
        let result = self
            .copy_parts(src, dst, size, &upload_id, part_size.max(5 << 20))
            .await;
        if result.is_err() {
            let _ = self.abort_upload(dst, &upload_id).await;
        }
        result
    }

    async fn copy_parts(
        &self,
        src: &str,
        dst: &str,
        size: u64,
        upload_id: &str,
        part_size: u64,
    ) -> Result<()> {
        let mut complete = String::from("<CompleteMultipartUpload>");
        let source = format!("/{}/{}", self.settings.bucket, src);
        let mut start = 0u64;
        let mut part = 1u32;
        while start < size || part == 1 {
            let end = (start + part_size).min(size).saturating_sub(1);
            let n = part.to_string();
            let headers = [
                ("x-amz-copy-source", source.clone()),
                ("x-amz-copy-source-range", format!("bytes={start}-{end}")),
            ];
            let (_, body) = self
                .send(
                    http::Method::PUT,
                    self.url(dst, &[("partNumber", &n), ("uploadId", upload_id)])?,
                    &headers,
                    Bytes::new(),
                )
                .await?;
            let etag = xml_text(&body, "ETag").ok_or_else(|| {
                Error::store(format!("copy part {n} of {dst}"), "no ETag in answer")
            })?;
            complete.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
                xml_escape(&etag)
            ));
            start = end + 1;
            part += 1;
        }
        complete.push_str("</CompleteMultipartUpload>");
        self.send(
            http::Method::POST,
            self.url(dst, &[("uploadId", upload_id)])?,
            &[],
            Bytes::from(complete),
        )
        .await?;
        Ok(())
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
            Err(Error::Store { message, .. }) if message.contains("BucketAlreadyOwnedByYou") => {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    /// Aborts a multipart upload by key and id.
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<()> {
        self.send(
            http::Method::DELETE,
            self.url(key, &[("uploadId", upload_id)])?,
            &[],
            Bytes::new(),
        )
        .await?;
        Ok(())
    }

    /// Lists the multipart uploads in progress in the bucket.
    pub async fn list_multipart_uploads(&self) -> Result<Vec<PendingUpload>> {
        let url = url::Url::parse(&format!(
            "{}/{}?uploads",
            self.settings.endpoint(),
            self.settings.bucket
        ))
        .map_err(|e| Error::store("list uploads", e))?;
        let (_, body) = self.send(http::Method::GET, url, &[], Bytes::new()).await?;
        let keys = xml_all(&body, "Key");
        let ids = xml_all(&body, "UploadId");
        Ok(keys
            .into_iter()
            .zip(ids)
            .map(|(key, upload_id)| PendingUpload { key, upload_id })
            .collect())
    }

    /// The user metadata (`x-amz-meta-*`, names without the prefix) of an object, or None
    /// when it does not exist.
    pub async fn head_metadata(&self, key: &str) -> Result<Option<BTreeMap<String, String>>> {
        match self
            .send(http::Method::HEAD, self.url(key, &[])?, &[], Bytes::new())
            .await
        {
            Ok((headers, _)) => Ok(Some(
                headers
                    .iter()
                    .filter_map(|(k, v)| {
                        let name = k.as_str().strip_prefix("x-amz-meta-")?;
                        Some((name.to_string(), v.to_str().ok()?.to_string()))
                    })
                    .collect(),
            )),
            Err(Error::Store { message, .. }) if message.starts_with("404") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn s3_error_text(status: http::StatusCode, body: &[u8]) -> String {
    let code = xml_text(body, "Code").unwrap_or_default();
    let msg = xml_text(body, "Message").unwrap_or_default();
    format!("{} {code} {msg}", status.as_u16())
        .trim()
        .to_string()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
fn xml_all(body: &[u8], tag: &str) -> Vec<String> {
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
