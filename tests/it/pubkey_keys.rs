//! Public keys in the config: every form of one key is the same key (same fingerprint, same
//! verdict), and private keys or keys of the wrong form are config errors that name the file
//! and line and never echo the key.

#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::pubkey::{config, pem, sender, signed, verdict, BODY};
use crate::support::{route_checks, ConfigFile, NOW_S};

#[test]
fn every_form_of_one_public_key_is_the_same_key_with_the_same_fingerprint() {
    let s = sender("discord");
    let raw = hex::decode(&s.public).unwrap();
    let spki = [hex::decode("302a300506032b6570032100").unwrap(), raw].concat();
    let forms = [
        s.public.clone(),
        s.public.to_ascii_uppercase(),
        pem("PUBLIC KEY", &spki),
    ];
    let yaml = format!(
        "{}        - id: from-file\n          file: discord.pub\n",
        config(
            "discord",
            &[("hex", &forms[0]), ("upper", &forms[1]), ("pem", &forms[2])]
        ),
    );
    let file = ConfigFile::new(&yaml);
    file.write("discord.pub", pem("PUBLIC KEY", &spki).as_bytes());
    let snap = file.load().unwrap();
    let check = &route_checks(&snap, "r")[0];
    let prints: Vec<&str> = check
        .secrets
        .iter()
        .map(|c| c.secret.fingerprint.as_str())
        .collect();
    assert_eq!(prints.len(), 4);
    assert!(prints.iter().all(|p| *p == prints[0]), "{prints:?}");
    let pairs = signed(&snap, &s.key, BODY, NOW_S);
    assert_eq!(verdict(&snap, &pairs, BODY, NOW_S * 1000), Ok("hex".into()));
}

#[test]
fn private_keys_and_keys_of_the_wrong_form_are_config_errors_that_never_echo_the_key() {
    let ed = sender("discord");
    let whsk = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "standard-webhooks",
            "whsk_",
            whsk.to_owned(),
            "configure the endpoint's public key (`whpk_...`)",
        ),
        (
            "svix",
            "whsk_",
            whsk.to_owned(),
            "Standard Webhooks private key",
        ),
        (
            "discord",
            "PEM private key",
            ed.pem.clone(),
            "is a private key",
        ),
        (
            "discord",
            "62 hex digits",
            ed.public[..62].to_owned(),
            "64 hex digits",
        ),
        (
            "telnyx",
            "hex for a base64 key",
            ed.public.clone(),
            "base64 of 32 bytes",
        ),
        (
            "sendgrid",
            "an Ed25519 key",
            STANDARD.encode([7u8; 32]),
            "DER SubjectPublicKeyInfo",
        ),
    ];
    for (scheme, what, key, words) in cases {
        let err = ConfigFile::new(&config(scheme, &[("k", &key)]))
            .load()
            .expect_err(what)
            .to_string();
        assert!(err.contains(words), "{scheme}, {what}: {err}");
        assert!(err.contains("hookguard.yaml:9:"), "{scheme}, {what}: {err}");
        let middle = &key.trim()[key.trim().len() / 2..][..12];
        assert!(!err.contains(middle), "{scheme}, {what}: key echoed: {err}");
    }
}
