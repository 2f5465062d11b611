//! Point-in-time recovery: `restore --until-gtid POS`, `--until TIME`, `--until latest`.
//!
//! Planned before anything is written: the target is resolved to a GTID position (a time: per
//! domain, the last transaction whose time is at or before it; `latest`: the archive's last
//! event), the newest backup whose data lies at or before it is chosen, and the archive must
//! hold the path from the backup's data point to the target without a gap (a missing file, a
//! GTID discontinuity, a generation change), or the restore is refused, naming the gap. Then
//! the backup is restored as always but for its binlog, and the archived files of the path are
//! applied in one client connection from the backup's data position to the target, included.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::catalog::binlogs::{self, Archived};
use crate::catalog::{Entry, Instance, Selection};
use crate::codec::chain::Keys;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::mysql::binlog::state::{GtidState, Position};
use crate::mysql::binlog::summary::{Summary, summarize};
use crate::pipeline::{Expected, fetch_stream};
use crate::store::Store;

/// The point a restore goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Until {
    /// This GTID position, included (per domain); domains it does not name get nothing after
    /// the backup's data point.
    Gtid(Position),
    /// Every transaction whose time is at or before this one.
    Time(DateTime<Utc>),
    /// The archive's last event.
    Latest,
}

impl Until {
    /// `--until-gtid` and `--until`: at most one; TIME with an offset or `Z` (RFC 3339), or
    /// `YYYY-MM-DD HH:MM:SS` in `zone` (conf `timezone`, else the host's).
    pub fn parse(
        gtid: Option<&str>,
        until: Option<&str>,
        zone: Option<&str>,
    ) -> Result<Option<Until>> {
        match (gtid, until) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(Error::Config(
                "give --until-gtid or --until, not both".into(),
            )),
            (Some(g), None) => {
                let p = Position::parse(g)?;
                if p.is_empty() {
                    return Err(Error::Config("--until-gtid needs a GTID position".into()));
                }
                Ok(Some(Until::Gtid(p)))
            }
            (None, Some("latest")) => Ok(Some(Until::Latest)),
            (None, Some(t)) => Ok(Some(Until::Time(parse_time(t, zone)?))),
        }
    }

    /// In words, for reports and refusals (times in UTC).
    pub fn describe(&self) -> String {
        match self {
            Until::Gtid(p) => format!("GTID {p}"),
            Until::Time(t) => format!("{} UTC", t.format("%Y-%m-%d %H:%M:%S")),
            Until::Latest => "the last archived event".into(),
        }
    }
}

/// A time: RFC 3339 (with its offset or `Z`), or a local time in `zone` (an IANA name; none:
/// the host's zone).
pub fn parse_time(text: &str, zone: Option<&str>) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1)) {
        return Ok(d.to_utc());
    }
    let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
        .ok_or_else(|| {
            Error::Config(format!(
                "--until {text:?}: not a time (2026-12-04T14:03:00Z, 2026-12-04 14:03:00+01:00, \
                 or 2026-12-04 14:03:00 in conf `timezone`) nor `latest`"
            ))
        })?;
    let local = match zone {
        Some(z) => {
            let tz: chrono_tz::Tz = z
                .parse()
                .map_err(|_| Error::Config(format!("`timezone`: {z:?} is no IANA time zone")))?;
            naive.and_local_timezone(tz).earliest().map(|d| d.to_utc())
        }
        None => naive
            .and_local_timezone(chrono::Local)
            .earliest()
            .map(|d| d.to_utc()),
    };
    local.ok_or_else(|| {
        Error::Config(format!(
            "--until {text:?} does not exist in {} (a clock change skips it)",
            zone.unwrap_or("the host's zone")
        ))
    })
}

/// What a point-in-time restore does, decided before anything is written.
#[derive(Clone, Debug)]
pub struct Plan {
    pub backup: Entry,
    /// Where the backup's data stands.
    pub from: Position,
    /// The position restored to.
    pub target: Position,
    /// The target as given, in words.
    pub asked: String,
    /// The archived files applied, in order (the first holds the backup's data point).
    pub files: Vec<Archived>,
}

/// Plans the restore of `me` (selection as for any restore) to `until`.
pub async fn plan(
    store: &Arc<dyn Store>,
    s: &Settings,
    keys: &Keys,
    me: &Instance,
    sel: &Selection,
    until: &Until,
) -> Result<Plan> {
    // Every complete full backup the selection wants, newest first, with its data position.
    let backups: Vec<(Entry, Position)> =
        crate::catalog::backups(store.as_ref(), Some(me.port), s.day())
            .await?
            .into_iter()
            .filter(|e| e.complete() && e.parts.as_ref().is_some_and(|p| sel.matches(me, p)))
            .filter_map(|e| {
                let g = e.gtid.clone()?;
                Some((e, GtidState::parse(&g).ok()?.position()))
            })
            .collect();
    let Some((newest, _)) = backups.first() else {
        return Err(Error::Refused(format!(
            "no complete backup of port {} with binlog coordinates to recover from in {}",
            me.port,
            store.describe()
        )));
    };
    let owner = Instance {
        host: newest.host.clone().unwrap_or_else(|| me.host.clone()),
        instance_id: newest.instance_id.unwrap_or(me.instance_id),
        port: me.port,
    };
    let archive = binlogs::list(store.as_ref(), &owner).await?;
    if archive.generations.is_empty() {
        return Err(Error::Refused(format!(
            "no archived binlog of {owner} in {}: run archive_binlog (from a timer) to recover to \
             a point in time",
            store.describe()
        )));
    }
    // The newest backup whose data lies at or before the target, in the generation that
    // holds its data point; an older one when the target lies before it.
    let mut first_refusal = None;
    for (backup, from) in &backups {
        let data_file = backup
            .binlog_pos
            .as_deref()
            .and_then(|p| p.rsplit_once(':'))
            .map(|(f, _)| f.to_string())
            .unwrap_or_default();
        let Some((generation, start)) =
            binlogs::home(store.as_ref(), &archive, &data_file, from).await?
        else {
            first_refusal.get_or_insert_with(|| {
                Error::Refused(format!(
                    "gap: the binlog file where the data of {} stops is not in the archive \
                     (archive_binlog did not run before it was purged, or the archive started \
                     later): the path from the backup to the target is not archived",
                    backup.key
                ))
            });
            continue;
        };
        let files = &archive.generations[&generation];
        let last = files.last().expect("a generation holds files");
        let last_end = binlogs::states(store.as_ref(), last).await?.1.position();
        let target = match until {
            Until::Gtid(p) => p.clone(),
            Until::Latest => last_end.clone(),
            Until::Time(t) => match at_time(store, keys, &files[start..], *t).await {
                Ok(p) => p,
                Err(e) => {
                    first_refusal.get_or_insert(e);
                    continue;
                }
            },
        };
        if !target_covers(&target, from) {
            continue;
        }
        if !last_end.covers_all(&target) {
            return Err(Error::Refused(format!(
                "{} lies after the last archived event ({} of generation {generation} in {}, \
                 ending at {last_end}): nothing after it can be restored",
                until.describe(),
                last.name.file,
                store.describe(),
            )));
        }
        let path = path(store.as_ref(), &files[start..], generation, from, &target).await?;
        return Ok(Plan {
            backup: backup.clone(),
            from: from.clone(),
            target,
            asked: until.describe(),
            files: path,
        });
    }
    if let Some(e) = first_refusal {
        return Err(e);
    }
    let oldest = backups
        .last()
        .map(|(e, p)| format!("{} at {p}", e.key))
        .unwrap_or_default();
    Err(Error::Refused(format!(
        "{} lies before the oldest backup's data ({oldest}): no backup to start from",
        until.describe()
    )))
}

/// Whether the target lies at or after the data position `from` in every domain `from` has.
fn target_covers(target: &Position, from: &Position) -> bool {
    from.domains().all(|d| {
        let f = from.get(d).expect("its domain");
        target.get(d).is_none_or(|t| t.seq >= f.seq)
    })
}

/// Per domain, the last transaction whose time is at or before `t`, over the archive's files
/// (those entirely before `t` by their records' end states, the one across it by its events).
async fn at_time(
    store: &Arc<dyn Store>,
    keys: &Keys,
    files: &[Archived],
    t: DateTime<Utc>,
) -> Result<Position> {
    let before: Vec<&Archived> = files.iter().filter(|a| a.name.first <= t).collect();
    let Some(across) = before.last() else {
        return Err(Error::Refused(format!(
            "{} UTC lies before the first archived event ({})",
            t.format("%Y-%m-%d %H:%M:%S"),
            files
                .first()
                .map(|a| a.name.first.to_rfc3339())
                .unwrap_or_default()
        )));
    };
    let mut state = binlogs::states(store.as_ref(), across).await?.0;
    let summary = summary_of(store, keys, across).await?;
    let secs = t.timestamp();
    for tx in &summary.transactions {
        if i64::from(tx.time) <= secs {
            state.apply(tx.gtid);
        }
    }
    Ok(state.position())
}

/// The archived files from `files[0]` (the one holding the backup's data point) to the one
/// holding the target, each continuing the one before it; a gap is a refusal naming it.
async fn path(
    store: &dyn Store,
    files: &[Archived],
    generation: u32,
    from: &Position,
    target: &Position,
) -> Result<Vec<Archived>> {
    let first_end = binlogs::states(store, &files[0]).await?.1;
    let mut path = vec![files[0].clone()];
    let mut end = first_end.position();
    debug_assert!(end.covers_all(from));
    let mut prev = &files[0];
    for next in &files[1..] {
        if end.covers_all(target) {
            break;
        }
        if next.name.start != prev.name.end {
            return Err(Error::Refused(format!(
                "gap after {} of generation {generation}: {} does not continue it (a missing \
                 file, or GTIDs that were never archived)",
                prev.name.file, next.name.file
            )));
        }
        path.push(next.clone());
        end = binlogs::states(store, next).await?.1.position();
        prev = next;
    }
    if !end.covers_all(target) {
        return Err(Error::Refused(format!(
            "the archive of generation {generation} ends at {end} after {}: the target {target} \
             lies beyond it",
            prev.name.file
        )));
    }
    Ok(path)
}

/// The stored bytes of an archived file, decoded, into `consume` (its record's digests
/// checked on the way).
async fn fetch<T: Send + 'static>(
    store: &Arc<dyn Store>,
    keys: &Keys,
    a: &Archived,
    consume: impl FnOnce(crate::codec::PipeReader) -> Result<T> + Send + 'static,
) -> Result<T> {
    let r = binlogs::record(store.as_ref(), a).await?;
    let expected = Expected {
        sha1: Some(r.sha1.clone()),
        sha256: Some(r.sha256.clone()),
        read_all: false,
        given: false,
    };
    let input = crate::catalog::listing::stream_objects(store.clone(), &r.objects).await?;
    Ok(fetch_stream(input, &expected, keys, consume).await?.0)
}

/// The summary of an archived file (read from the store, not written anywhere).
async fn summary_of(store: &Arc<dyn Store>, keys: &Keys, a: &Archived) -> Result<Summary> {
    fetch(store, keys, a, |r| {
        summarize(std::io::BufReader::with_capacity(1 << 20, r))
    })
    .await
}

/// Writes the archived files of `plan` into `dir` under their names (the dir is the restore's
/// own, inside the data dir), checking each against its record.
pub async fn download(
    store: &Arc<dyn Store>,
    keys: &Keys,
    plan: &Plan,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>> {
    let mut paths = Vec::new();
    for a in &plan.files {
        crate::cancel::check()?;
        let path = dir.join(&a.name.file);
        let out = path.clone();
        let written = fetch(store, keys, a, move |mut r| {
            let mut f =
                std::fs::File::create_new(&out).map_err(|e| Error::io("create", &out, e))?;
            let n = std::io::copy(&mut r, &mut f).map_err(|e| Error::io("write", &out, e))?;
            f.sync_all().map_err(|e| Error::io("sync", &out, e))?;
            Ok(n)
        })
        .await?;
        if written != a.name.size {
            return Err(Error::format(
                "binlog",
                format!(
                    "{} decoded to {written} bytes, its key says {}",
                    a.key, a.name.size
                ),
            ));
        }
        paths.push(path);
    }
    Ok(paths)
}
