//! The S3 options: account, bucket, endpoint, and where the credentials come from.

use std::path::{Path, PathBuf};

use super::upload::{DEFAULT_IN_FLIGHT, DEFAULT_PART, MAX_PART, MIN_PART};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// S3 account and bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    pub host: String,
    pub bucket: String,
    pub access_key: Secret,
    pub secret_key: Secret,
    /// `http` or `https`.
    pub scheme: String,
    pub region: String,
    /// Bytes per part of a multipart upload (conf `s3_part_size`).
    pub part_size: u64,
    /// Parts sent at once (conf `s3_parts_in_flight`).
    pub parts_in_flight: usize,
}

impl S3Settings {
    /// The endpoint URL, e.g. `http://127.0.0.1:9000`.
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }
}

/// The S3 values of the command line (`flag_*`) and conf, before resolution.
#[derive(Default)]
pub struct RawS3 {
    pub host: Option<String>,
    pub bucket: Option<String>,
    pub flag_access_key: Option<Secret>,
    pub flag_secret_key: Option<Secret>,
    pub conf_access_key: Option<Secret>,
    pub conf_secret_key: Option<Secret>,
    pub scheme: Option<String>,
    pub region: Option<String>,
    pub credentials_file: Option<PathBuf>,
    pub part_size: Option<u64>,
    pub parts_in_flight: Option<usize>,
}

/// Reads `aws_access_key_id` and `aws_secret_access_key` of the `[default]` profile of an AWS
/// shared-credentials file; warns when the file is readable by others.
fn read_credentials_file(path: &Path) -> Result<(Option<Secret>, Option<Secret>)> {
    use std::os::unix::fs::PermissionsExt;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io("read s3_credentials_file", path, e))?;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!("{} is world-readable; chmod 600 it", path.display());
    }
    let (mut access, mut secret) = (None, None);
    let mut in_default = true;
    for line in text.lines().map(str::trim) {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_default = section.trim() == "default";
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = Some(Secret::new(v.trim()));
        match (in_default, k.trim()) {
            (true, "aws_access_key_id") => access = v,
            (true, "aws_secret_access_key") => secret = v,
            _ => {}
        }
    }
    Ok((access, secret))
}

/// The S3 settings, or None when no `s3_host` is set. Each credential comes from the first
/// place that has it: the command line, the environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`), conf.yaml, then conf `s3_credentials_file` (the AWS
/// shared-credentials format, profile `default`).
pub fn resolve(raw: RawS3, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<S3Settings>> {
    let Some(host) = raw.host.clone().filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let from_file = match &raw.credentials_file {
        Some(p) => read_credentials_file(p)?,
        None => (None, None),
    };
    let env = |k: &str| env(k).filter(|v| !v.is_empty()).map(Secret::new);
    let access = raw
        .flag_access_key
        .or_else(|| env("AWS_ACCESS_KEY_ID"))
        .or(raw.conf_access_key)
        .or(from_file.0);
    let secret = raw
        .flag_secret_key
        .or_else(|| env("AWS_SECRET_ACCESS_KEY"))
        .or(raw.conf_secret_key)
        .or(from_file.1);
    let need = |v: Option<Secret>, key: &str, var: &str| {
        v.filter(|s| !s.expose().is_empty()).ok_or_else(|| {
            Error::Config(format!(
                "`s3_host` is set, so `{key}` is required too (or the environment's {var}, or \
                 conf `s3_credentials_file`)"
            ))
        })
    };
    let scheme = raw.scheme.clone().unwrap_or_else(|| "http".into());
    if scheme != "http" && scheme != "https" {
        return Err(Error::Config(format!(
            "`s3_scheme` must be http or https, got {scheme}"
        )));
    }
    let bucket = raw
        .bucket
        .clone()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::Config("`s3_host` is set, so `s3_bucket` is required too".into()))?;
    let part_size = raw.part_size.unwrap_or(DEFAULT_PART);
    if !(MIN_PART..=MAX_PART).contains(&part_size) {
        return Err(Error::Config(format!(
            "`s3_part_size` must be 5MiB..=5GiB (S3's limits), got {part_size} bytes"
        )));
    }
    let parts_in_flight = raw.parts_in_flight.unwrap_or(DEFAULT_IN_FLIGHT);
    if !(1..=64).contains(&parts_in_flight) {
        return Err(Error::Config(format!(
            "`s3_parts_in_flight` must be 1..=64, got {parts_in_flight}"
        )));
    }
    Ok(Some(S3Settings {
        part_size,
        parts_in_flight,
        host,
        bucket,
        access_key: need(access, "s3_access_key", "AWS_ACCESS_KEY_ID")?,
        secret_key: need(secret, "s3_secret_key", "AWS_SECRET_ACCESS_KEY")?,
        scheme,
        region: raw.region.clone().unwrap_or_else(|| "us-east-1".into()),
    }))
}
