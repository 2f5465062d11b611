//! Pending multipart uploads: listed page by page (a listing cut at 1000 would hide some),
//! when each last received a part, and aborting one.

use std::time::SystemTime;

use bytes::Bytes;

use super::raw::xml_all;
use super::{PendingUpload, S3Store};
use crate::error::{Error, Result};

fn time(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(SystemTime::from)
}

fn first(body: &[u8], tag: &str) -> Option<String> {
    xml_all(body, tag).into_iter().next()
}

impl S3Store {
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

    /// Lists the multipart uploads in progress in the bucket whose keys start with `prefix`,
    /// every page.
    pub async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<PendingUpload>> {
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut url = url::Url::parse(&format!(
                "{}/{}",
                self.settings.endpoint(),
                self.settings.bucket
            ))
            .map_err(|e| Error::store("list uploads", e))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_key_only("uploads");
                if !prefix.is_empty() {
                    q.append_pair("prefix", prefix);
                }
                if let Some((key, id)) = &markers {
                    q.append_pair("key-marker", key);
                    q.append_pair("upload-id-marker", id);
                }
            }
            let (_, body) = self.send(http::Method::GET, url, &[], Bytes::new()).await?;
            let initiated = xml_all(&body, "Initiated");
            out.extend(
                xml_all(&body, "Key")
                    .into_iter()
                    .zip(xml_all(&body, "UploadId"))
                    .enumerate()
                    .map(|(i, (key, upload_id))| PendingUpload {
                        key,
                        upload_id,
                        initiated: initiated.get(i).and_then(|t| time(t)),
                    }),
            );
            if first(&body, "IsTruncated").as_deref() != Some("true") {
                return Ok(out);
            }
            let next = (
                first(&body, "NextKeyMarker").unwrap_or_default(),
                first(&body, "NextUploadIdMarker").unwrap_or_default(),
            );
            if next.0.is_empty() || markers.as_ref() == Some(&next) {
                return Err(Error::store(
                    "list uploads",
                    "the listing is cut without a new marker to go on from",
                ));
            }
            markers = Some(next);
        }
    }

    /// When the upload last received a part, over every page of its parts (None: no part).
    pub async fn last_part_time(&self, key: &str, upload_id: &str) -> Result<Option<SystemTime>> {
        let mut latest = None;
        let mut marker = String::new();
        loop {
            let mut query = vec![("uploadId", upload_id)];
            if !marker.is_empty() {
                query.push(("part-number-marker", marker.as_str()));
            }
            let (_, body) = self
                .send(http::Method::GET, self.url(key, &query)?, &[], Bytes::new())
                .await?;
            latest = xml_all(&body, "LastModified")
                .iter()
                .filter_map(|t| time(t))
                .chain(latest)
                .max();
            if first(&body, "IsTruncated").as_deref() != Some("true") {
                return Ok(latest);
            }
            let next = first(&body, "NextPartNumberMarker").unwrap_or_default();
            if next.is_empty() || next == marker {
                return Err(Error::store(
                    format!("list parts of {key}"),
                    "the listing is cut without a new marker to go on from",
                ));
            }
            marker = next;
        }
    }
}
