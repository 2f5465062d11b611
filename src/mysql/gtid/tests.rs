//! Unit tests of `gtid`: MySQL GTID set parsing, printing and arithmetic on multi-UUID sets,
//! checked against sets enumerated transaction by transaction.

use super::*;

const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const B: &str = "8a94f357-aab4-11df-86ab-c80aa9429563";

fn set(t: &str) -> GtidSet {
    GtidSet::parse(t).unwrap()
}

/// Every (source, number) of a set: the independent oracle for the arithmetic.
fn members(s: &GtidSet) -> std::collections::BTreeSet<(String, u64)> {
    s.0.iter()
        .flat_map(|(src, list)| {
            list.iter()
                .flat_map(move |&(a, b)| (a..=b).map(move |n| (src.to_string(), n)))
        })
        .collect()
}

#[test]
fn parses_what_mysql_prints() {
    // @@gtid_executed as MySQL prints it: sources on lines of their own, uppercase accepted.
    let s = set(&format!("{}:1-5:7,\n{}:1-3:4:10-12", A.to_uppercase(), B));
    assert_eq!(s.to_string(), format!("{A}:1-5:7,{B}:1-4:10-12"));
    assert_eq!(s.count(), 6 + 7);
    assert_eq!(set(""), GtidSet::default());
    assert_eq!(set(" \n"), GtidSet::default());
    // Without dashes, single numbers, unordered and overlapping intervals are normalized.
    let s = set(&format!("{}:9:1-3:2-5:6", A.replace('-', "")));
    assert_eq!(s.to_string(), format!("{A}:1-6:9"));
    // Tags (MySQL 8.3+): a tag's intervals follow it within the server's entry.
    let s = set(&format!("{A}:1-3:Blue:1-2,{A}:blue:5"));
    assert_eq!(s.to_string(), format!("{A}:1-3:blue:1-2:5"));
    assert_eq!(set(&s.to_string()), s);
}

#[test]
fn rejects_what_is_not_a_set() {
    for t in [
        "x:1-5",
        A,
        &format!("{A}:0-3"),
        &format!("{A}:5-3"),
        &format!("{A}:1-a"),
        &format!("{A}:1-9223372036854775808"),
        &format!("{A}:9tag:1"),
        "3e11fa47-71ca-11e1-9e33-c80aa942956:1",
        "0-1-5",
    ] {
        assert!(GtidSet::parse(t).is_err(), "{t} was accepted");
    }
}

#[test]
fn arithmetic_on_multi_uuid_sets() {
    let x = set(&format!("{A}:1-10:20-30,{B}:1-5"));
    let y = set(&format!("{A}:5-22,{B}:6-7,{A}:tag:1"));
    let u = x.union(&y);
    assert_eq!(u.to_string(), format!("{A}:1-30:tag:1,{B}:1-7"));
    assert_eq!(
        members(&u),
        members(&x).union(&members(&y)).cloned().collect()
    );
    let d = x.difference(&y);
    assert_eq!(d.to_string(), format!("{A}:1-4:23-30,{B}:1-5"));
    assert_eq!(
        members(&d),
        members(&x).difference(&members(&y)).cloned().collect()
    );
    assert!(!x.is_subset(&y));
    assert!(d.is_subset(&x) && x.is_subset(&u) && y.is_subset(&u));
    assert!(x.difference(&x).is_empty());
    assert!(GtidSet::default().is_subset(&x));
    // The largest transaction number MySQL allows.
    let top = set(&format!("{A}:1-9223372036854775807"));
    assert!(top.difference(&top).is_empty() && top.is_subset(&top));
    assert_eq!(
        top.difference(&set(&format!("{A}:2-9223372036854775806")))
            .to_string(),
        format!("{A}:1:9223372036854775807")
    );
    assert_eq!(
        x.of_server(&B.to_uppercase()).to_string(),
        format!("{B}:1-5")
    );
    // A replica that has everything of one peer but not another's.
    let replica = set(&format!("{A}:1-30,{B}:1-5"));
    assert!(x.is_subset(&replica));
    assert!(!y.is_subset(&replica));
    assert_eq!(
        y.difference(&replica).to_string(),
        format!("{A}:tag:1,{B}:6-7")
    );
}

#[test]
fn arithmetic_agrees_with_enumeration() {
    // Pseudo-random sets over two sources, compared with the member-by-member oracle.
    let mut seed = 7u64;
    let mut next = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    for _ in 0..300 {
        let mut sets = [GtidSet::default(), GtidSet::default()];
        for s in &mut sets {
            for _ in 0..next(6) {
                let uuid = if next(2) == 0 { A } else { B };
                let a = 1 + next(40);
                let b = a + next(8);
                s.add(
                    Source {
                        uuid: uuid.into(),
                        tag: None,
                    },
                    a,
                    b,
                );
            }
        }
        let [x, y] = &sets;
        assert_eq!(set(&x.to_string()), *x);
        let (mx, my) = (members(x), members(y));
        assert_eq!(members(&x.union(y)), mx.union(&my).cloned().collect());
        assert_eq!(
            members(&x.difference(y)),
            mx.difference(&my).cloned().collect()
        );
        assert_eq!(x.is_subset(y), mx.is_subset(&my));
        assert_eq!(x.count(), mx.len() as u64);
    }
}

#[test]
fn mariadb_positions_merge_and_filter() {
    let p = Position::lenient("1-1-40,2-2-7\n,x,1-2");
    let q = Position::lenient("1-1-3, 2-2-19,3-3-5");
    assert_eq!(p.merge(&q).to_string(), "1-1-40,2-2-19,3-3-5");
    assert_eq!(
        Position::lenient("0-1-5")
            .merge(&Position::lenient("0-2-9"))
            .to_string(),
        "0-2-9"
    );
    assert_eq!(
        p.merge(&q).replicated(&[3], &[]).to_string(),
        "1-1-40,2-2-19"
    );
    assert_eq!(p.merge(&q).replicated(&[], &[2]).to_string(), "2-2-19");
    // A tie keeps the first, as the string helpers did.
    let first = Position::lenient("0-1-5");
    assert_eq!(
        first.merge(&Position::lenient("0-2-5")).to_string(),
        "0-1-5"
    );
    assert_eq!(Position::lenient("0-1-5,0-2-5").to_string(), "0-1-5");
    let mut last = first.clone();
    last.set(Gtid {
        domain: 0,
        server: 2,
        seq: 3,
    });
    assert_eq!(last.to_string(), "0-2-3");
    assert_eq!(GtidPos::MariaDb(p).to_string(), "1-1-40,2-2-7");
    assert!(GtidPos::MySql(GtidSet::default()).is_empty());
}
