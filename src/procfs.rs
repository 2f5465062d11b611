//! What this process reads in /proc: whether it runs as root, its peak memory, the bytes it
//! wrote to disk, the hostname, and which other processes run with a given argument.

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

/// Removes from a child's environment the variables that may hold S3 credentials
/// ([`crate::config::SECRET_ENV`]): no child needs them.
pub fn no_secrets(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    for v in crate::config::SECRET_ENV {
        cmd.env_remove(v);
    }
    cmd
}

/// This machine's hostname (what `gethostname` returns), which a MySQL server names its default
/// pid file and logs after.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Pids of the other live processes with one of `args` among their arguments (zombies
/// excluded: they hold nothing).
pub fn pids_with_arg(args: &[String]) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            raw.split(|&b| b == 0)
                .any(|a| args.iter().any(|x| x.as_bytes() == a))
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|st| st.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_processes_by_exact_argument() {
        let mut child = std::process::Command::new("sleep")
            .arg("7.123")
            .spawn()
            .unwrap();
        let pid = child.id();
        // Until the child has exec'd, its arguments are this test's.
        let started = std::time::Instant::now();
        while !pids_with_arg(&["7.123".to_string()]).contains(&pid) {
            assert!(started.elapsed().as_secs() < 10, "sleep 7.123 not found");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            !pids_with_arg(&["7.12".to_string()]).contains(&pid),
            "whole arguments only"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!pids_with_arg(&["7.123".to_string()]).contains(&pid));
    }

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
