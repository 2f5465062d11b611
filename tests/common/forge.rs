//! Forged archives for hostile-input tests: a real backup unpacked with the standard tools,
//! edited, its manifest made to match again, and packed the way mysqlbackup packs
//! (`tar | gzip | openssl des3`, sha1sum sidecar), so only what the test changed is wrong.

use std::path::Path;
use std::process::Command;

use mysqlbackup::archive::manifest::Manifest;

/// Writes to `out` (with its `.sha1` sidecar) the archive `archive` after `edit` changed its
/// unpacked entries in the directory it is given (`my.cnf`, `data.xbstream.*`, `binlog/...`,
/// the manifest, whose entry list then follows the files that are left).
pub fn forge(archive: &Path, key_file: &Path, out: &Path, edit: impl FnOnce(&Path)) {
    let pass = format!("-pass file:{}", key_file.display());
    forge_with(
        archive,
        &format!("openssl des3 -d {pass} | gzip -d"),
        &format!("gzip --fast | openssl des3 {pass}"),
        out,
        edit,
    );
}

/// As [`forge`], for any chain: `decode` turns the archive into a tar stream, `encode` a tar
/// stream into the stored bytes (shell commands of a pipe).
pub fn forge_with(
    archive: &Path,
    decode: &str,
    encode: &str,
    out: &Path,
    edit: impl FnOnce(&Path),
) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(&format!(
        "cat {} | {decode} | tar -x -C {}",
        archive.display(),
        d.display()
    ));
    edit(d);
    let manifest_path = d.join("mysqlbackup-manifest.json");
    let mut m = Manifest::parse(&std::fs::read(&manifest_path).unwrap()).unwrap();
    m.entries.retain(|e| d.join(&e.name).exists());
    for e in &mut m.entries {
        let bytes = std::fs::read(d.join(&e.name)).unwrap();
        e.size = bytes.len() as u64;
        e.sha1 = super::sha1_bytes(&bytes);
    }
    // Format 2 summarizes the data segments instead of listing them: they follow my.cnf.
    let mut segments: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("data.xbstream."))
        .collect();
    segments.sort();
    if let Some(ds) = &mut m.data_stream {
        let mut all = Vec::new();
        for s in &segments {
            all.extend(std::fs::read(d.join(s)).unwrap());
        }
        ds.segments = segments.len() as u64;
        ds.size = all.len() as u64;
        ds.crc32 = format!("{:08x}", crc32fast::hash(&all));
    } else {
        segments.clear();
    }
    std::fs::write(&manifest_path, m.to_bytes()).unwrap();
    let listed: Vec<String> = m.entries.iter().map(|e| e.name.clone()).collect();
    let names: Vec<String> = listed
        .iter()
        .take_while(|n| *n == "my.cnf")
        .cloned()
        .chain(segments)
        .chain(listed.iter().skip_while(|n| *n == "my.cnf").cloned())
        .chain(["mysqlbackup-manifest.json".to_string()])
        .collect();
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let name = out.file_name().unwrap().to_string_lossy().into_owned();
    run(&format!(
        "tar -c --format=gnu -C {} {} | {encode} > {} && cd {} && sha1sum {name} > {name}.sha1",
        d.display(),
        names.join(" "),
        out.display(),
        out.parent().unwrap().display()
    ));
}

fn run(script: &str) {
    let st = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail; {script}"))
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

/// Rewrites the xbstream segments of an unpacked archive in `d` as one segment holding what
/// `edit` leaves of the extracted data dir it is given.
pub fn edit_data(d: &Path, edit: impl FnOnce(&Path)) {
    let data = d.join("xb-data");
    std::fs::create_dir_all(&data).unwrap();
    run(&format!(
        "cat {0}/data.xbstream.* | mbstream -x -C {1} && rm {0}/data.xbstream.*",
        d.display(),
        data.display()
    ));
    edit(&data);
    run(&format!(
        "cd {} && find . -type f | sed 's|^./||' | xargs mbstream -c > {}/data.xbstream.00000000",
        data.display(),
        d.display()
    ));
    std::fs::remove_dir_all(&data).unwrap();
}
