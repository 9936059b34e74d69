//! The `sops` metadata section of an encrypted file, in every store: the
//! first byte picks the store (YAML, JSON, dotenv, INI), the rest is the
//! file. parse_encrypted → Metadata::from_tree → to_tree → emit_encrypted
//! must give a file that nsec reads back to the same metadata, and a second
//! round gives the same tree and bytes. Errors show no key material.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsec_fuzz::{no_key_material, same_map, show, without_comments, EXACT};
use secrets_core::metadata::Metadata;
use secrets_core::store::{self, StoreOptions};
use secrets_core::{Format, Map, Value};

const FORMATS: [Format; 4] = [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini];

/// The fields that must survive a write and read in every store (unknown
/// fields become strings in dotenv and INI, as in sops).
/// An empty `hc_vault: []` (which YAML writes in every group) is no key.
fn essentials(m: &Metadata) -> String {
    let groups: Vec<String> = m
        .key_groups
        .iter()
        .map(|g| {
            let other: Vec<_> = g
                .other
                .iter()
                .filter(|(_, v)| {
                    !matches!(v, Value::Null) && !matches!(v, Value::List(l) if l.is_empty())
                })
                .collect();
            format!("{:?} {other:?}", g.age)
        })
        .collect();
    format!(
        "{groups:?} {} {:?} {:?} {:?} {} {:?}",
        m.shamir_threshold, m.lastmodified, m.mac, m.selector, m.mac_only_encrypted, m.version
    )
}

/// Writes the documents with `meta`, reads the file back.
fn write_read(
    format: Format,
    docs: &[Map],
    meta: &Metadata,
    data: &[u8],
) -> (Vec<u8>, Vec<Map>, Metadata) {
    let opts = StoreOptions::default();
    let tree = meta.to_tree(format);
    let bytes = match store::emit_encrypted(format, docs, &tree, &opts) {
        Ok(bytes) => bytes,
        Err(e) => panic!(
            "cannot write metadata that was read: {e}\n--- input\n{}\n--- tree\n{tree:?}",
            show(data)
        ),
    };
    let (docs, back) = store::parse_encrypted(format, &bytes).unwrap_or_else(|e| {
        panic!(
            "cannot read what was written: {e}\n--- input\n{}\n--- output\n{}",
            show(data),
            show(&bytes)
        )
    });
    let meta = Metadata::from_tree(&back).unwrap_or_else(|e| {
        panic!(
            "metadata written is not valid: {e}\n--- input\n{}\n--- output\n{}",
            show(data),
            show(&bytes)
        )
    });
    (bytes, docs, meta)
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    let (docs, tree) = match store::parse_encrypted(format, data) {
        Ok(parsed) => parsed,
        Err(e) => return no_key_material(&[data], &e.to_string()),
    };
    // The metadata is public (sops keeps it in the clear; `enc` and `mac`
    // are encrypted), so its errors may quote its fields.
    let Ok(first) = Metadata::from_tree(&tree) else {
        return;
    };
    // Documents that do not write (e.g. keys a store cannot hold), do not
    // read back, or change on their first write and read (YAML integral
    // floats and `-0.0` read back as ints, as go-yaml reads them, see
    // fuzz/README.md) are the stores' targets' business: the documents as
    // read back from one write are used, without their comments (where a
    // comment lands after a write and a read is `yaml_parse`'s business:
    // a head comment of a long `? key`'s value is written after its `:`
    // and read back before the key, in sops too), and only the metadata
    // is checked.
    let written = store::emit_encrypted(
        format,
        &docs,
        &first.to_tree(format),
        &StoreOptions::default(),
    );
    let docs = match written.map(|bytes| store::parse_encrypted(format, &bytes)) {
        Ok(Ok((docs, _))) => without_comments(&docs),
        _ => vec![Map::new()],
    };
    let (bytes1, docs1, second) = write_read(format, &docs, &first, data);
    assert_eq!(
        essentials(&first),
        essentials(&second),
        "metadata changed by a write and read\n--- input\n{}\n--- output\n{}",
        show(data),
        show(&bytes1)
    );
    let (bytes2, _, third) = write_read(format, &docs1, &second, data);
    assert!(
        same_map(&second.to_tree(format), &third.to_tree(format), EXACT),
        "metadata tree not stable\n--- input\n{}\n--- first\n{}\n--- second\n{}",
        show(data),
        show(&bytes1),
        show(&bytes2)
    );
    assert!(
        bytes1 == bytes2,
        "written file not stable\n--- input\n{}\n--- first\n{}\n--- second\n{}",
        show(data),
        show(&bytes1),
        show(&bytes2)
    );
});
