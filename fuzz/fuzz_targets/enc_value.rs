//! The `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` value and the typed
//! plaintext inside it:
//! * parse → format → parse gives the same value, formatting is stable, and
//!   what parses looks encrypted;
//! * a parsed value never decrypts under a wrong key (and never panics);
//! * the input as plaintext of every type: from_plaintext → to_plaintext →
//!   from_plaintext gives the same value, and encrypt → parse → decrypt
//!   gives the plaintext back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsec_fuzz::{same_value, EXACT};
use secrets_core::fuzzing::{
    from_plaintext, looks_encrypted, to_plaintext, Cipher, EncryptedValue, ValueType,
};
use secrets_core::keys::DataKey;

const TYPES: [ValueType; 7] = [
    ValueType::Str,
    ValueType::Int,
    ValueType::Float,
    ValueType::Bool,
    ValueType::Time,
    ValueType::Comment,
    ValueType::Bytes,
];

fuzz_target!(|data: &[u8]| {
    let key = DataKey::from_slice(&[7u8; 32]).expect("32 bytes");
    let cipher = Cipher::new(&key);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(value) = text.parse::<EncryptedValue>() {
            assert!(looks_encrypted(text));
            let formatted = value.to_string();
            let again: EncryptedValue = formatted
                .parse()
                .unwrap_or_else(|e| panic!("cannot parse what was formatted ({e}): {formatted}"));
            assert!(
                again == value,
                "value changed by format → parse: {text} → {formatted}"
            );
            assert_eq!(again.to_string(), formatted, "formatting is not stable");
            let _ = value.iv32();
            assert!(
                cipher.decrypt(value, "a:b:", None).is_none(),
                "decrypted under a made-up key: {text}"
            );
        }
    }
    for ty in TYPES {
        let Ok(value) = from_plaintext(data, ty) else {
            continue;
        };
        let (plain, ty2) = to_plaintext(&value).expect("a leaf");
        let back = from_plaintext(&plain, ty2)
            .unwrap_or_else(|e| panic!("cannot read back {value:?} as {ty2:?}: {e}"));
        assert!(
            same_value(&value, &back, EXACT),
            "typed plaintext changed: {value:?} → {:?} → {back:?}",
            String::from_utf8_lossy(&plain)
        );
        // Empty values are never encrypted (as in sops: they stay empty).
        if plain.is_empty() {
            continue;
        }
        let sealed = cipher.encrypt(&plain, ty2, "k:", None);
        let parsed: EncryptedValue = sealed.parse().expect("own ENC value");
        assert_eq!(parsed.value_type(), ty2);
        let opened = cipher
            .decrypt(parsed, "k:", None)
            .expect("own ENC value decrypts");
        assert_eq!(&opened[..], &plain[..]);
    }
});
