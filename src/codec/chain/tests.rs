//! Unit tests of `chain`: every chain both ways, recognised from its bytes; wrong keys.

use std::sync::Arc;

use super::*;
use crate::codec::run_stages;

fn keys() -> Keys {
    let id = age::x25519::Identity::generate();
    Keys {
        des3_password: Some(b"pw".to_vec()),
        kdf: KeyDerivation::Sha256,
        age_recipients: vec![id.to_public().to_string()],
        age_identities: Some(Arc::new(vec![Box::new(id)])),
        des3_key_file: None,
        des3_refused: None,
    }
}

fn chains() -> Vec<Chain> {
    let mut v = Vec::new();
    for compression in [
        Compression::Gzip { level: 2 },
        Compression::Zstd {
            level: 1,
            workers: 2,
        },
    ] {
        for cipher in [
            Cipher::Des3 {
                kdf: KeyDerivation::Sha256,
            },
            Cipher::Age,
        ] {
            v.push(Chain {
                compression,
                cipher,
            });
        }
    }
    v
}

#[test]
fn every_chain_round_trips_and_is_recognised() {
    let keys = keys();
    let data: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
    for chain in chains() {
        let stored = run_stages(chain.encoders(&keys).unwrap(), &data, 7777).unwrap();
        assert!(SUFFIXES.contains(&chain.suffix()));
        let (cipher, decs) = decoders(&stored[..RECOGNISE_LEN], &keys).unwrap();
        assert!(chain.name().ends_with(&cipher), "{}", chain.name());
        assert_eq!(
            run_stages(decs, &stored, 3).unwrap(),
            data,
            "{}",
            chain.name()
        );
    }
    assert_eq!(chains()[0].name(), "gzip+des3");
    assert_eq!(chains()[0].suffix(), ".tgz.des3");
    assert_eq!(chains()[3].suffix(), ".tar.zst.age");
    assert!(recognise(b"PK\x03\x04....").is_err());
}

#[test]
fn wrong_keys_are_named() {
    let keys = keys();
    let data = vec![7u8; 100_000];
    let des3 = run_stages(chains()[0].encoders(&keys).unwrap(), &data, 4096).unwrap();
    let wrong = Keys {
        des3_password: Some(b"other".to_vec()),
        ..keys.clone()
    };
    let (_, decs) = decoders(&des3, &wrong).unwrap();
    let e = run_stages(decs, &des3, 4096).unwrap_err().to_string();
    assert!(e.contains("des3 password"), "{e}");
    let aged = run_stages(chains()[3].encoders(&keys).unwrap(), &data, 4096).unwrap();
    let none = Keys {
        age_identities: None,
        ..keys.clone()
    };
    let e = decoders(&aged, &none).err().unwrap().to_string();
    assert!(e.contains("age_identity_file"), "{e}");
    let other = age::x25519::Identity::generate();
    let wrong = Keys {
        age_identities: Some(Arc::new(vec![Box::new(other)])),
        ..keys
    };
    let (_, decs) = decoders(&aged, &wrong).unwrap();
    let e = run_stages(decs, &aged, 4096).unwrap_err().to_string();
    assert!(e.contains("wrong age identity"), "{e}");
}
