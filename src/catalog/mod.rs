//! The catalog over any [`Store`]: how backups are named ([`names`]), what each records
//! ([`record`]), how one is written ([`writer`]) and found ([`listing`], [`select`]), what
//! verify found of it ([`verdicts`]), and what interrupted runs left. The stores are dumb
//! byte stores: the catalog alone knows what a key means.

use crate::store::Store;

pub mod binlogs;
mod entry;
mod leftovers;
mod legacy;
pub mod listing;
pub mod names;
pub mod record;
mod select;
pub mod verdicts;
pub mod writer;

pub use entry::Entry;
pub use leftovers::LeftoverEntry;
pub use listing::{Listing, backups, delete, entry, leftovers, list, newest, stream};
pub use names::{Instance, KeyParts, Scheme, parse_key};
pub use record::Record;
pub use select::{Selection, locate};

/// Removes what interrupted (e.g. killed) runs of `instance` left in `store`, on any day:
/// pending uploads, partial files, objects of backups that never wrote their record. Call
/// only under the instance lock: then no backup of this instance is under way, and keys name
/// host, port and instance, so nothing removed can belong to a running backup. Returns what
/// was removed; a failure to list or remove is logged, not fatal (the backup itself does not
/// depend on it).
pub async fn remove_leftovers(store: &dyn Store, instance: &Instance) -> Vec<String> {
    let mut removed = Vec::new();
    match leftovers(store, Some(instance.port)).await {
        Ok(all) => {
            for l in all
                .iter()
                .filter(|l| l.parts.instance().as_ref() == Some(instance))
            {
                match l.remove(store).await {
                    Ok(()) => removed.push(format!("{} ({})", store.location(&l.key), l.kind)),
                    Err(e) => tracing::warn!("could not remove leftover {}: {e}", l.key),
                }
            }
        }
        Err(e) => tracing::warn!("could not list leftovers of interrupted backups: {e}"),
    }
    removed
}
