//! Every seed of fuzz/corpus and every input in fuzz/regressions goes through its fuzz target
//! as an ordinary test: a crash once found stays fixed.

use std::path::Path;

#[test]
fn corpus_and_regressions_run_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut ran = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(targets) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for t in targets.flatten().filter(|e| e.path().is_dir()) {
            let name = t.file_name().to_string_lossy().into_owned();
            let run = mysqlbackup::fuzzing::target(&name)
                .unwrap_or_else(|| panic!("no fuzz target {name}"));
            for input in std::fs::read_dir(t.path()).unwrap().flatten() {
                run(&std::fs::read(input.path()).unwrap());
                ran += 1;
            }
        }
    }
    assert!(ran >= 10, "the seed corpus is there ({ran} inputs)");
}
