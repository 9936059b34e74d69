//! Post-quantum age keys: the MLKEM768-X25519 hybrid recipient type of age
//! 1.3 (<https://c2sp.org/age>, "The MLKEM768-X25519 (i.e. X-Wing) hybrid
//! post-quantum recipient type"), which sops 3.11 reads and writes.
//!
//! - An identity is a 32-byte seed, Bech32 with HRP `AGE-SECRET-KEY-PQ-`
//!   (upper case). The KEM keys come from it as in filippo.io/hpke-pq:
//!   SHAKE256(seed) gives 64 bytes, the ML-KEM-768 `d || z` seed (FIPS 203
//!   KeyGen), then 32 bytes, the X25519 secret.
//! - A recipient is the 1216-byte public key, the ML-KEM-768 encapsulation
//!   key (1184) then the X25519 point (32), Bech32 with HRP `age1pq` and no
//!   length limit (so about 1,950 characters).
//! - A stanza is `-> mlkem768x25519 base64(enc)` with the HPKE ciphertext of
//!   the file key as its body: RFC 9180 SealBase with KEM MLKEM768-X25519
//!   (0x647a, draft-ietf-hpke-pq-03), KDF HKDF-SHA256, AEAD ChaCha20Poly1305,
//!   `info = "age-encryption.org/mlkem768x25519"`, empty `aad`. `enc` is the
//!   ML-KEM ciphertext (1088) then the ephemeral X25519 share (32); the KEM
//!   shared secret is SHA3-256(ss_mlkem || ss_x25519 || ct_x25519 ||
//!   pk_x25519 || X-Wing label).
//!
//! The recipient reports age's `postquantum` label, so the `age` crate's own
//! encryptor would refuse to mix it with X25519 or SSH recipients. nsec (like
//! sops) writes one age header per recipient, so each PQ header holds one PQ
//! stanza only.

use std::collections::HashSet;
use std::fmt;

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use curve25519_dalek::montgomery::MontgomeryPoint;
use ml_kem::kem::Decapsulate;
use ml_kem::{EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem768};
use secrecy::{SecretBox, SecretString};
use sha2::Sha256;
use sha3::digest::{Digest, ExtendableOutput, Update, XofReader};
use sha3::{Sha3_256, Shake256};
use zeroize::{Zeroize, Zeroizing};

/// Bech32 HRP of a recipient.
pub(crate) const RECIPIENT_HRP: &str = "age1pq";
/// Bech32 HRP of an identity (written in upper case).
pub(crate) const IDENTITY_HRP: &str = "AGE-SECRET-KEY-PQ-";
/// How every identity line starts.
pub(crate) const IDENTITY_PREFIX: &str = "AGE-SECRET-KEY-PQ-1";
/// How every recipient starts.
pub(crate) const RECIPIENT_PREFIX: &str = "age1pq1";
/// The stanza tag.
pub(crate) const STANZA_TAG: &str = "mlkem768x25519";
/// The label the recipient reports (age's rule: PQ only with PQ).
pub(crate) const LABEL_POSTQUANTUM: &str = "postquantum";

/// HPKE `info` of the age stanza.
const INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
/// The X-Wing combiner label, `\./` `/^\`.
const XWING_LABEL: &[u8] = b"\\.//^\\";
/// HPKE suite: KEM MLKEM768-X25519, KDF HKDF-SHA256, AEAD ChaCha20Poly1305.
const KEM_ID: u16 = 0x647a;
const KDF_ID: u16 = 0x0001;
const AEAD_ID: u16 = 0x0003;

const EK_PQ_LEN: usize = 1184;
const CT_PQ_LEN: usize = 1088;
const X25519_LEN: usize = 32;
/// Length of a recipient's public key.
pub(crate) const PUBLIC_KEY_LEN: usize = EK_PQ_LEN + X25519_LEN;
/// Length of the encapsulated key `enc`.
pub(crate) const ENC_LEN: usize = CT_PQ_LEN + X25519_LEN;
/// A 16-byte file key sealed with a 16-byte Poly1305 tag.
const BODY_LEN: usize = 16 + 16;
/// ML-KEM's modulus: every 12-bit coefficient of a key must be below it.
const Q: u16 = 3329;

type EncapsulationKey = <MlKem768 as KemCore>::EncapsulationKey;
type DecapsulationKey = <MlKem768 as KemCore>::DecapsulationKey;

/// Why a post-quantum key could not be parsed. Never holds key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PqKeyError {
    /// Not valid Bech32 (bad checksum, mixed case, bad characters).
    #[error("not valid Bech32")]
    Bech32,
    /// Valid Bech32, but with another human-readable part.
    #[error("wrong Bech32 type (expected {expected})")]
    WrongType {
        /// The HRP that was expected.
        expected: &'static str,
    },
    /// The payload has the wrong length.
    #[error("wrong key length {actual} (expected {expected})")]
    Length {
        /// The expected length.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// The ML-KEM-768 encapsulation key has a coefficient not reduced
    /// modulo q (FIPS 203's input check).
    #[error("invalid ML-KEM-768 encapsulation key")]
    NotReduced,
}

/// Decodes long Bech32 (age's: BIP 173 without the length limit), checking
/// the HRP (case-insensitively, as Bech32 is either all upper or all lower
/// case) and that the encoding is canonical.
fn bech32_decode(text: &str, hrp: &'static str) -> Result<Zeroizing<Vec<u8>>, PqKeyError> {
    let data = age_core::primitives::bech32_decode(
        text,
        |_| PqKeyError::Bech32,
        |found| {
            if found.to_string().eq_ignore_ascii_case(hrp) {
                Ok(())
            } else {
                Err(PqKeyError::WrongType { expected: hrp })
            }
        },
        |_, bytes| Ok(Zeroizing::new(bytes.collect::<Vec<u8>>())),
    )?;
    // Padding bits must be zero: re-encoding must give the input back.
    let again = Zeroizing::new(bech32_encode(hrp, &data));
    if !again.eq_ignore_ascii_case(text) {
        return Err(PqKeyError::Bech32);
    }
    Ok(data)
}

/// Encodes long Bech32, lower case.
fn bech32_encode(hrp: &str, data: &[u8]) -> String {
    let hrp = bech32::Hrp::parse_unchecked(hrp);
    age_core::primitives::bech32_encode(hrp, data)
}

/// FIPS 203 §7.2 input check of an encapsulation key: every 12-bit
/// coefficient of its 1152-byte vector part is below q.
fn ek_is_reduced(ek: &[u8]) -> bool {
    ek[..EK_PQ_LEN - 32].chunks_exact(3).all(|c| {
        let a = u16::from(c[0]) | (u16::from(c[1] & 0x0f) << 8);
        let b = u16::from(c[1] >> 4) | (u16::from(c[2]) << 4);
        a < Q && b < Q
    })
}

/// An `age1pq1…` recipient.
#[derive(Clone)]
pub struct PqRecipient {
    ek_pq: EncapsulationKey,
    pk_t: [u8; X25519_LEN],
}

impl PqRecipient {
    /// Parses `age1pq1…` (Bech32, either case, canonical).
    pub fn parse(text: &str) -> Result<PqRecipient, PqKeyError> {
        let data = bech32_decode(text, RECIPIENT_HRP)?;
        PqRecipient::from_bytes(&data)
    }

    /// The recipient of a raw 1216-byte public key.
    pub fn from_bytes(public: &[u8]) -> Result<PqRecipient, PqKeyError> {
        if public.len() != PUBLIC_KEY_LEN {
            return Err(PqKeyError::Length {
                expected: PUBLIC_KEY_LEN,
                actual: public.len(),
            });
        }
        let (ek, pk_t) = public.split_at(EK_PQ_LEN);
        if !ek_is_reduced(ek) {
            return Err(PqKeyError::NotReduced);
        }
        let encoded =
            ml_kem::Encoded::<EncapsulationKey>::try_from(ek).map_err(|_| PqKeyError::Length {
                expected: PUBLIC_KEY_LEN,
                actual: public.len(),
            })?;
        let mut t = [0u8; X25519_LEN];
        t.copy_from_slice(pk_t);
        Ok(PqRecipient {
            ek_pq: EncapsulationKey::from_bytes(&encoded),
            pk_t: t,
        })
    }

    /// The raw 1216-byte public key.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PUBLIC_KEY_LEN);
        out.extend_from_slice(&self.ek_pq.as_bytes());
        out.extend_from_slice(&self.pk_t);
        out
    }

    /// Encapsulates to this key with the given randomness (32 bytes for
    /// ML-KEM, 32 for the ephemeral X25519 secret): the shared secret and
    /// `enc`. `None` when the X25519 output is all zero (a bad public key).
    fn encapsulate(&self, m: &[u8; 32], eph: &[u8; 32]) -> Option<(Zeroizing<[u8; 32]>, Vec<u8>)> {
        let m = ml_kem::B32::from(*m);
        // Infallible in ml-kem 0.2 (its error type is `()`).
        let (ct_pq, mut ss_pq) = self.ek_pq.encapsulate_deterministic(&m).ok()?;
        let ct_t = MontgomeryPoint::mul_base_clamped(*eph).to_bytes();
        let mut shared_t = MontgomeryPoint(self.pk_t).mul_clamped(*eph);
        let ss_t = Zeroizing::new(shared_t.to_bytes());
        shared_t.0.zeroize();
        let ss = combine(&ss_pq, &ss_t[..], &ct_t, &self.pk_t);
        ss_pq.as_mut_slice().zeroize();
        if is_zero(&ss_t) {
            return None;
        }
        let mut enc = Vec::with_capacity(ENC_LEN);
        enc.extend_from_slice(&ct_pq);
        enc.extend_from_slice(&ct_t);
        Some((ss, enc))
    }

    /// Seals `plaintext` to this key (HPKE SealBase, age's parameters) with
    /// the given randomness: (`enc`, ciphertext).
    fn seal_with(
        &self,
        plaintext: &[u8],
        m: &[u8; 32],
        eph: &[u8; 32],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let (ss, enc) = self.encapsulate(m, eph)?;
        let (key, nonce) = key_schedule(&ss, INFO);
        let aead = ChaCha20Poly1305::new((&*key).into());
        let ct = aead
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext,
                    aad: b"",
                },
            )
            .ok()?;
        Some((enc, ct))
    }
}

impl fmt::Display for PqRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bech32_encode(RECIPIENT_HRP, &self.to_bytes()))
    }
}

impl fmt::Debug for PqRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PqRecipient(age1pq1…)")
    }
}

impl age::Recipient for PqRecipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let mut m = Zeroizing::new([0u8; 32]);
        let mut eph = Zeroizing::new([0u8; 32]);
        let random = getrandom::getrandom(&mut m[..]).and(getrandom::getrandom(&mut eph[..]));
        let io_error = |what: &str| {
            age::EncryptError::Io(std::io::Error::other(format!(
                "post-quantum age recipient: {what}"
            )))
        };
        random.map_err(|_| io_error("the OS random generator failed"))?;
        let (enc, body) = self
            .seal_with(file_key.expose_secret(), &m, &eph)
            .ok_or_else(|| io_error("invalid X25519 public key"))?;
        let stanza = Stanza {
            tag: STANZA_TAG.to_string(),
            args: vec![STANDARD_NO_PAD.encode(enc)],
            body,
        };
        let labels = HashSet::from([LABEL_POSTQUANTUM.to_string()]);
        Ok((vec![stanza], labels))
    }
}

/// An `AGE-SECRET-KEY-PQ-1…` identity.
pub struct PqIdentity {
    seed: SecretBox<[u8; 32]>,
    /// Wiped on drop (ml-kem's `zeroize` feature).
    dk_pq: DecapsulationKey,
    ek_pq: EncapsulationKey,
    sk_t: SecretBox<[u8; 32]>,
    pk_t: [u8; X25519_LEN],
}

impl PqIdentity {
    /// Parses `AGE-SECRET-KEY-PQ-1…`. The error never contains the text.
    pub fn parse(text: &str) -> Result<PqIdentity, PqKeyError> {
        let data = bech32_decode(text.trim(), IDENTITY_HRP)?;
        let seed: &[u8; 32] = data[..].try_into().map_err(|_| PqKeyError::Length {
            expected: 32,
            actual: data.len(),
        })?;
        Ok(PqIdentity::from_seed(seed))
    }

    /// A new random identity.
    pub fn generate() -> Result<PqIdentity, getrandom::Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut seed[..])?;
        Ok(PqIdentity::from_seed(&seed))
    }

    /// Expands a 32-byte seed into the ML-KEM-768 and X25519 keys.
    pub fn from_seed(seed: &[u8; 32]) -> PqIdentity {
        let mut xof = Shake256::default();
        xof.update(seed);
        let mut reader = xof.finalize_xof();
        let mut d = Zeroizing::new([0u8; 32]);
        let mut z = Zeroizing::new([0u8; 32]);
        let mut sk_t = [0u8; 32];
        reader.read(&mut d[..]);
        reader.read(&mut z[..]);
        reader.read(&mut sk_t);
        let mut d_arr = ml_kem::B32::from(*d);
        let mut z_arr = ml_kem::B32::from(*z);
        let (dk_pq, ek_pq) = MlKem768::generate_deterministic(&d_arr, &z_arr);
        d_arr.as_mut_slice().zeroize();
        z_arr.as_mut_slice().zeroize();
        let pk_t = MontgomeryPoint::mul_base_clamped(sk_t).to_bytes();
        let identity = PqIdentity {
            seed: SecretBox::new(Box::new(*seed)),
            dk_pq,
            ek_pq,
            sk_t: SecretBox::new(Box::new(sk_t)),
            pk_t,
        };
        sk_t.zeroize();
        identity
    }

    /// The identity as `AGE-SECRET-KEY-PQ-1…` (upper case).
    pub fn to_secret_string(&self) -> SecretString {
        let lower = Zeroizing::new(bech32_encode(IDENTITY_HRP, self.seed.expose_secret()));
        SecretString::from(lower.to_ascii_uppercase())
    }

    /// The matching recipient.
    pub fn to_recipient(&self) -> PqRecipient {
        PqRecipient {
            ek_pq: self.ek_pq.clone(),
            pk_t: self.pk_t,
        }
    }

    /// Decapsulates `enc` (ML-KEM ciphertext, X25519 share). `None` when
    /// the X25519 output is all zero (a low-order share).
    fn decapsulate(&self, enc: &[u8; ENC_LEN]) -> Option<Zeroizing<[u8; 32]>> {
        let (ct_pq, ct_t) = enc.split_at(CT_PQ_LEN);
        let ct_pq = ml_kem::Ciphertext::<MlKem768>::try_from(ct_pq).ok()?;
        let ct_t: [u8; X25519_LEN] = ct_t.try_into().ok()?;
        // ML-KEM rejects implicitly: a wrong key gives a wrong secret, and
        // the AEAD then fails. The `()` error cannot happen in ml-kem 0.2.
        let mut ss_pq = self.dk_pq.decapsulate(&ct_pq).ok()?;
        let mut shared_t = MontgomeryPoint(ct_t).mul_clamped(*self.sk_t.expose_secret());
        let ss_t = Zeroizing::new(shared_t.to_bytes());
        shared_t.0.zeroize();
        let ss = combine(&ss_pq, &ss_t[..], &ct_t, &self.pk_t);
        ss_pq.as_mut_slice().zeroize();
        if is_zero(&ss_t) {
            return None;
        }
        Some(ss)
    }

    /// Opens an HPKE ciphertext made with [`PqRecipient`]'s seal:
    /// `Err(())` for a bad `enc`, `Ok(None)` when it is not for this key.
    #[allow(clippy::result_unit_err)]
    fn open(&self, enc: &[u8; ENC_LEN], ct: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, ()> {
        let ss = self.decapsulate(enc).ok_or(())?;
        let (key, nonce) = key_schedule(&ss, INFO);
        let aead = ChaCha20Poly1305::new((&*key).into());
        Ok(aead
            .decrypt((&nonce).into(), Payload { msg: ct, aad: b"" })
            .ok()
            .map(Zeroizing::new))
    }
}

impl fmt::Debug for PqIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PqIdentity([redacted])")
    }
}

impl age::Identity for PqIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        // https://c2sp.org/age#mlkem768x25519-recipient-stanza: exactly one
        // argument, the canonical base64 of 1120 bytes; a 32-byte body.
        let invalid = Some(Err(age::DecryptError::InvalidHeader));
        let [arg] = &stanza.args[..] else {
            return invalid;
        };
        let Ok(enc) = STANDARD_NO_PAD.decode(arg) else {
            return invalid;
        };
        let Ok(enc) = <[u8; ENC_LEN]>::try_from(enc) else {
            return invalid;
        };
        if STANDARD_NO_PAD.encode(enc) != *arg || stanza.body.len() != BODY_LEN {
            return invalid;
        }
        match self.open(&enc, &stanza.body) {
            Err(()) => invalid,
            Ok(None) => None,
            Ok(Some(plain)) => {
                let key = FileKey::init_with_mut(|k| k.copy_from_slice(&plain));
                Some(Ok(key))
            }
        }
    }
}

fn is_zero(bytes: &[u8; 32]) -> bool {
    bytes.iter().fold(0u8, |acc, b| acc | b) == 0
}

/// The X-Wing combiner: SHA3-256(ss_pq || ss_t || ct_t || pk_t || label).
fn combine(ss_pq: &[u8], ss_t: &[u8], ct_t: &[u8], pk_t: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut h = Sha3_256::new();
    Digest::update(&mut h, ss_pq);
    Digest::update(&mut h, ss_t);
    Digest::update(&mut h, ct_t);
    Digest::update(&mut h, pk_t);
    Digest::update(&mut h, XWING_LABEL);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&h.finalize());
    out
}

fn suite_id() -> [u8; 10] {
    let mut id = [0u8; 10];
    id[..4].copy_from_slice(b"HPKE");
    id[4..6].copy_from_slice(&KEM_ID.to_be_bytes());
    id[6..8].copy_from_slice(&KDF_ID.to_be_bytes());
    id[8..].copy_from_slice(&AEAD_ID.to_be_bytes());
    id
}

/// RFC 9180 LabeledExtract with HKDF-SHA256.
fn labeled_extract(salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut labeled = Zeroizing::new(Vec::with_capacity(7 + 10 + label.len() + ikm.len()));
    labeled.extend_from_slice(b"HPKE-v1");
    labeled.extend_from_slice(&suite_id());
    labeled.extend_from_slice(label);
    labeled.extend_from_slice(ikm);
    let (prk, _) = hkdf::Hkdf::<Sha256>::extract(Some(salt), &labeled);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&prk);
    out
}

/// RFC 9180 LabeledExpand with HKDF-SHA256 into `out`.
fn labeled_expand(prk: &[u8; 32], label: &[u8], info: &[u8], out: &mut [u8]) {
    let mut labeled = Vec::with_capacity(2 + 7 + 10 + label.len() + info.len());
    // `out` is 32 or 12 bytes here, so both the length and the expansion
    // (at most 255 * 32 bytes) are in range.
    labeled.extend_from_slice(&(out.len() as u16).to_be_bytes());
    labeled.extend_from_slice(b"HPKE-v1");
    labeled.extend_from_slice(&suite_id());
    labeled.extend_from_slice(label);
    labeled.extend_from_slice(info);
    let hk = hkdf::Hkdf::<Sha256>::from_prk(prk).unwrap_or_else(|_| unreachable!());
    hk.expand(&labeled, out).unwrap_or_else(|_| unreachable!());
}

/// RFC 9180 KeyScheduleS/R in base mode (no PSK): the AEAD key and base
/// nonce. age seals a single message, so sequence number 0 is the base nonce.
fn key_schedule(shared_secret: &[u8; 32], info: &[u8]) -> (Zeroizing<[u8; 32]>, [u8; 12]) {
    let psk_id_hash = labeled_extract(b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(b"", b"info_hash", info);
    let mut context = [0u8; 65];
    context[1..33].copy_from_slice(&psk_id_hash[..]);
    context[33..].copy_from_slice(&info_hash[..]);
    let secret = labeled_extract(shared_secret, b"secret", b"");
    let mut key = Zeroizing::new([0u8; 32]);
    labeled_expand(&secret, b"key", &context, &mut key[..]);
    let mut nonce = [0u8; 12];
    labeled_expand(&secret, b"base_nonce", &context, &mut nonce);
    (key, nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn to_hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// The HPKE known-answer vector of filippo.io/hpke for exactly age's
    /// suite: key expansion, encapsulation (with the vector's randomness),
    /// decapsulation, key schedule and the first two AEAD messages.
    #[test]
    fn hpke_pq_known_answer() {
        let path = format!("{VECTORS}/hpke-pq/mlkem768x25519-hkdfsha256-chacha20poly1305.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let field = |k: &str| hex(v[k].as_str().unwrap());
        assert_eq!(v["kem_id"], 0x647a);
        assert_eq!(field("suite_id"), suite_id());
        let seed: [u8; 32] = field("skRm").try_into().unwrap();
        let identity = PqIdentity::from_seed(&seed);
        let recipient = identity.to_recipient();
        assert_eq!(to_hex(&recipient.to_bytes()), v["pkRm"].as_str().unwrap());

        let ikm_e = field("ikmE");
        let m: [u8; 32] = ikm_e[..32].try_into().unwrap();
        let eph: [u8; 32] = ikm_e[32..64].try_into().unwrap();
        let (ss, enc) = recipient.encapsulate(&m, &eph).unwrap();
        assert_eq!(to_hex(&enc), v["enc"].as_str().unwrap());
        assert_eq!(to_hex(&ss[..]), v["shared_secret"].as_str().unwrap());
        let enc: [u8; ENC_LEN] = enc.try_into().unwrap();
        assert_eq!(identity.decapsulate(&enc).unwrap(), ss);

        let (key, nonce) = key_schedule(&ss, &field("info"));
        assert_eq!(to_hex(&key[..]), v["key"].as_str().unwrap());
        assert_eq!(to_hex(&nonce), v["base_nonce"].as_str().unwrap());
        let aead = ChaCha20Poly1305::new((&*key).into());
        for (seq, e) in v["encryptions"].as_array().unwrap().iter().enumerate() {
            let mut n = nonce;
            n[11] ^= seq as u8;
            assert_eq!(to_hex(&n), e["nonce"].as_str().unwrap());
            let ct = aead
                .encrypt(
                    (&n).into(),
                    Payload {
                        msg: &hex(e["pt"].as_str().unwrap()),
                        aad: &hex(e["aad"].as_str().unwrap()),
                    },
                )
                .unwrap();
            assert_eq!(to_hex(&ct), e["ct"].as_str().unwrap());
        }
    }

    /// The spec's example identity and recipient (c2sp.org/age).
    #[test]
    fn spec_example_keys() {
        let id = "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR";
        let file = std::fs::read_to_string(format!("{VECTORS}/keys/pq-spec-example.txt")).unwrap();
        let recipient = file
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap()
            .to_string();
        assert!(file.lines().any(|l| l == id));
        let identity = PqIdentity::parse(id).unwrap();
        assert_eq!(identity.to_recipient().to_string(), recipient);
        assert_eq!(identity.to_secret_string().expose_secret(), id);
        assert_eq!(
            PqRecipient::parse(&recipient).unwrap().to_bytes(),
            identity.to_recipient().to_bytes()
        );
        // Upper case is the same key; mixed case and a bad checksum are not.
        assert!(PqRecipient::parse(&recipient.to_ascii_uppercase()).is_ok());
        assert_eq!(
            PqIdentity::parse(&id.to_ascii_lowercase())
                .unwrap()
                .to_recipient()
                .to_bytes(),
            identity.to_recipient().to_bytes()
        );
        let mixed = format!("AGE-secret{}", &id[10..]);
        assert_eq!(PqIdentity::parse(&mixed).unwrap_err(), PqKeyError::Bech32);
        let mut bad = recipient.clone();
        bad.pop();
        bad.push(if recipient.ends_with('q') { 'p' } else { 'q' });
        assert_eq!(PqRecipient::parse(&bad).unwrap_err(), PqKeyError::Bech32);
        // The wrong type either way round.
        assert!(matches!(
            PqIdentity::parse(&recipient),
            Err(PqKeyError::WrongType { .. })
        ));
        assert!(matches!(
            PqRecipient::parse("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"),
            Err(PqKeyError::WrongType { .. })
        ));
        // Errors and Debug never show the key.
        let shown = format!("{:?} {:?}", identity, PqIdentity::parse(&mixed));
        assert!(!shown.contains("XX76"), "{shown}");
    }

    #[test]
    fn unreduced_encapsulation_key_is_refused() {
        let mut public = PqIdentity::generate().unwrap().to_recipient().to_bytes();
        public[0] = 0xff;
        public[1] |= 0x0f;
        assert_eq!(
            PqRecipient::from_bytes(&public).unwrap_err(),
            PqKeyError::NotReduced
        );
        assert!(matches!(
            PqRecipient::from_bytes(&public[1..]),
            Err(PqKeyError::Length { .. })
        ));
    }

    #[test]
    fn wrap_and_unwrap_round_trip() {
        use age::{Identity, Recipient};
        let a = PqIdentity::generate().unwrap();
        let b = PqIdentity::generate().unwrap();
        let file_key = FileKey::init_with_mut(|k| k.copy_from_slice(&[9u8; 16]));
        let (stanzas, labels) = a.to_recipient().wrap_file_key(&file_key).unwrap();
        assert_eq!(labels, HashSet::from(["postquantum".to_string()]));
        assert_eq!(stanzas.len(), 1);
        assert_eq!(stanzas[0].tag, "mlkem768x25519");
        assert_eq!(stanzas[0].body.len(), 32);
        let opened = a.unwrap_stanza(&stanzas[0]).unwrap().unwrap();
        assert_eq!(opened.expose_secret(), &[9u8; 16]);
        assert!(b.unwrap_stanza(&stanzas[0]).is_none());
    }

    /// One C2SP test kit file: its header lines and the age file.
    struct Kit {
        expect: String,
        payload: Option<String>,
        identities: Vec<String>,
        armored: bool,
        file: Vec<u8>,
    }

    fn read_kit(path: &std::path::Path) -> Kit {
        let bytes = std::fs::read(path).unwrap();
        let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
        let mut kit = Kit {
            expect: String::new(),
            payload: None,
            identities: Vec::new(),
            armored: false,
            file: bytes[split + 2..].to_vec(),
        };
        for line in std::str::from_utf8(&bytes[..split]).unwrap().lines() {
            let (k, v) = line.split_once(": ").unwrap();
            match k {
                "expect" => kit.expect = v.to_string(),
                "payload" => kit.payload = Some(v.to_string()),
                "identity" => kit.identities.push(v.to_string()),
                "armored" => kit.armored = v == "yes",
                "file key" | "comment" => {}
                other => panic!("{}: unexpected key {other}", path.display()),
            }
        }
        kit
    }

    /// Every post-quantum vector of the C2SP age test kit, through the
    /// `age` crate's decryptor with our identity (as nsec decrypts).
    #[test]
    fn c2sp_age_testkit() {
        use sha2::Digest as _;
        let dir = format!("{VECTORS}/age-testkit");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with("hybrid") || n.starts_with("armor_hybrid")
            })
            .collect();
        names.sort();
        assert_eq!(names.len(), 19);
        for path in names {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let kit = read_kit(&path);
            let mut ids: Vec<Box<dyn age::Identity>> = Vec::new();
            for id in &kit.identities {
                if id.starts_with(IDENTITY_PREFIX) {
                    ids.push(Box::new(PqIdentity::parse(id).unwrap()));
                } else {
                    ids.push(Box::new(id.parse::<age::x25519::Identity>().unwrap()));
                }
            }
            let input: Box<dyn Read> = if kit.armored {
                Box::new(age::armor::ArmoredReader::new(&kit.file[..]))
            } else {
                Box::new(&kit.file[..])
            };
            let outcome = age::Decryptor::new_buffered(std::io::BufReader::new(input))
                .and_then(|d| d.decrypt(ids.iter().map(|i| i.as_ref())));
            match kit.expect.as_str() {
                "success" => {
                    let mut reader = outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
                    let mut payload = Vec::new();
                    reader.read_to_end(&mut payload).unwrap();
                    let digest = to_hex(&sha2::Sha256::digest(&payload));
                    assert_eq!(Some(digest), kit.payload, "{name}");
                }
                "no match" => assert!(
                    matches!(outcome, Err(age::DecryptError::NoMatchingKeys)),
                    "{name}: {:?}",
                    outcome.err()
                ),
                "header failure" => assert!(
                    matches!(
                        outcome,
                        Err(ref e) if !matches!(e, age::DecryptError::NoMatchingKeys)
                    ),
                    "{name}: {:?}",
                    outcome.err()
                ),
                other => panic!("{name}: unexpected expectation {other}"),
            }
        }
    }
}
