//! `.sops.yaml`: `Config::parse` never panics and its errors show no key
//! material; a config that parses picks rules for any path, names its
//! recipients, and its `stores:` options write a document in every store.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nsec_fuzz::no_key_material;
use secrets_core::keys::age::AgeRecipient;
use secrets_core::rules::{recipient_names, Config};
use secrets_core::store;
use secrets_core::{Format, Item, Map, Value};

fn sample() -> Vec<Map> {
    let inner = Map {
        items: vec![Item::Entry(
            "b".into(),
            Value::List(vec![Value::Int(1), Value::Str("x".into())]),
        )],
    };
    vec![Map {
        items: vec![
            Item::Entry("a".into(), Value::Map(inner)),
            Item::Entry("c".into(), Value::Str("d".into())),
        ],
    }]
}

fuzz_target!(|data: &[u8]| {
    let _ = recipient_names(&String::from_utf8_lossy(data));
    let config = match Config::parse(Path::new("/repo/.sops.yaml"), data) {
        Ok(config) => config,
        Err(e) => return no_key_material(&[data], &e.to_string()),
    };
    let cwd = Path::new("/repo/sub");
    for file in [
        "a.yaml",
        "/repo/secrets/x.env",
        "../y.json",
        "/elsewhere/z.ini",
        "",
    ] {
        match config.rule_for(cwd, Path::new(file)) {
            Ok(rule) => {
                for r in rule.recipients() {
                    AgeRecipient::parse(r).expect("Config::parse checked every recipient");
                    let _ = config.name_of(r);
                }
            }
            Err(e) => no_key_material(&[data], &e.to_string()),
        }
    }
    let docs = sample();
    for format in [Format::Yaml, Format::Json, Format::Binary] {
        let mut docs = docs.clone();
        if format == Format::Binary {
            docs[0]
                .items
                .push(Item::Entry("data".into(), Value::Str("bytes".into())));
        }
        let empty = Map::new();
        let written = if format == Format::Binary {
            store::emit_encrypted(format, &docs, &empty, &config.stores)
        } else {
            store::emit(format, &docs, &config.stores)
        };
        if let Err(e) = written {
            panic!("the stores options of a valid config cannot write a document: {e}");
        }
    }
});
