//! Object stores: S3-compatible storage (object_store plus the few calls it lacks).

pub mod s3;
