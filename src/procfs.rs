//! What this process reads about itself in /proc: whether it runs as root, its peak memory,
//! the bytes it wrote to disk, and the hostname.

/// The whitespace-separated values after `key` on its line of `/proc/self/{file}`.
fn field(file: &str, key: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/self/{file}")).ok()?;
    let rest = text.lines().find_map(|l| l.strip_prefix(key))?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// True when this process runs as root (effective uid 0; a server then needs `--user=root` or a
/// `user=`).
pub fn running_as_root() -> bool {
    field("status", "Uid:").is_some_and(|ids| ids.get(1).map(String::as_str) == Some("0"))
}

/// This process's peak resident memory in bytes (`VmHWM`), logged at the end of every command
/// so operators and the benchmarks see what a run cost the host.
pub fn peak_rss_bytes() -> Option<u64> {
    let kib: u64 = field("status", "VmHWM:")?.first()?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes this process caused to be written to storage (`write_bytes` of /proc/self/io), logged
/// with the peak RSS: a backup to S3 or stdout writes none.
pub fn disk_written_bytes() -> Option<u64> {
    field("io", "write_bytes:")?.first()?.parse().ok()
}

/// This machine's hostname (what `gethostname` returns), which a MySQL server names its default
/// pid file and logs after.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_read_from_the_effective_uid() {
        let euid = std::process::Command::new("id").arg("-u").output().unwrap();
        let euid = String::from_utf8_lossy(&euid.stdout).trim().to_string();
        assert_eq!(running_as_root(), euid == "0");
    }

    #[test]
    fn peak_rss_covers_a_block_in_use() {
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let peak = peak_rss_bytes().expect("VmHWM in /proc/self/status");
        assert!(peak >= 64 << 20, "{peak}");
        assert!(peak < 1 << 40, "{peak}");
    }

    #[test]
    fn disk_writes_are_counted() {
        let before = disk_written_bytes().expect("write_bytes in /proc/self/io");
        // Under the crate, not $TMPDIR: a tmpfs writes nothing to storage.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, vec![7u8; 4 << 20]).unwrap();
        std::fs::File::open(&f).unwrap().sync_all().unwrap();
        let after = disk_written_bytes().unwrap();
        assert!(after >= before + (4 << 20), "{before} -> {after}");
    }
}
