//! AWS KMS master keys, as sops keeps them: `arn` (and `role`, to assume
//! with STS first), the encryption `context`, `aws_profile`, `created_at`
//! and `enc` (the base64 ciphertext blob of KMS `Encrypt`).

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::aws::{self, Env, KmsTarget};
use crate::tree::{Item, Map, Value};

/// One KMS master key: what to encrypt to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KmsKey {
    /// The key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID` or `…:alias/NAME`).
    pub arn: String,
    /// A role ARN to assume (STS) before calling KMS, or "".
    pub role: String,
    /// The encryption context (sorted).
    pub context: BTreeMap<String, String>,
    /// The AWS profile to take credentials from, or "".
    pub aws_profile: String,
}

impl KmsKey {
    /// A key from sops' `ARN[+ROLE_ARN]` form (spaces removed).
    pub fn parse(spec: &str, context: BTreeMap<String, String>, aws_profile: &str) -> KmsKey {
        let spec = spec.replace(' ', "");
        let (arn, role) = match spec.find("+arn:") {
            Some(i) if i > 0 => (spec[..i].to_string(), spec[i + 1..].to_string()),
            _ => (spec, String::new()),
        };
        KmsKey {
            arn,
            role,
            context,
            aws_profile: aws_profile.to_string(),
        }
    }

    /// Splits a comma-separated list of `ARN[+ROLE_ARN]` (`--kms`,
    /// `SOPS_KMS_ARN`, a rule's `kms:` string).
    pub fn parse_list(
        list: &str,
        context: &BTreeMap<String, String>,
        aws_profile: &str,
    ) -> Vec<KmsKey> {
        list.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| KmsKey::parse(s, context.clone(), aws_profile))
            .collect()
    }

    /// The key as sops names it: `ARN[+ROLE][|CONTEXT][|PROFILE]`.
    pub fn name(&self) -> String {
        let mut s = self.arn.clone();
        if !self.role.is_empty() {
            s.push('+');
            s.push_str(&self.role);
        }
        let ctx = context_to_string(&self.context);
        if !self.aws_profile.is_empty() {
            s = format!("{s}|{ctx}|{}", self.aws_profile);
        } else if !ctx.is_empty() {
            s = format!("{s}|{ctx}");
        }
        s
    }

    /// Region and partition from the ARN, as sops' pattern
    /// `^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$` reads them.
    fn region(&self) -> Option<(&str, &str)> {
        let rest = self.arn.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        let rest = rest.strip_prefix("kms:")?;
        let (head, resource) = rest.rsplit_once(':')?;
        let (region, account) = head.rsplit_once(':')?;
        let ok = partition.starts_with("aws")
            && partition
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !region.is_empty()
            && !account.is_empty()
            && account.bytes().all(|b| b.is_ascii_digit())
            && (resource.len() > 4 && resource.starts_with("key/")
                || resource.len() > 6 && resource.starts_with("alias/"));
        ok.then_some((region, partition))
    }

    fn fail(&self, reason: String) -> Error {
        Error::Kms {
            arn: self.arn.clone(),
            reason,
        }
    }

    /// Credentials to call KMS with: the profile's or the environment's,
    /// then the role's when one is set.
    fn credentials(&self, env: &dyn Env) -> Result<(aws::Credentials, KmsTarget<'_>)> {
        let (region, partition) = self
            .region()
            .ok_or_else(|| self.fail(format!("no valid ARN found in '{}'", self.arn)))?;
        let scope = aws::Scope { region, partition };
        let base = aws::credentials(env, &self.aws_profile, scope).map_err(|e| self.fail(e))?;
        let creds = if self.role.is_empty() {
            base
        } else {
            let session = aws::session_name();
            let role = aws::RoleRequest {
                role_arn: &self.role,
                session_name: &session,
                extra: Vec::new(),
                region,
                partition,
            };
            aws::assume_role(env, &base, &role)
                .map_err(|e| self.fail(format!("{e} (with {})", base.source)))?
        };
        Ok((
            creds,
            KmsTarget {
                arn: &self.arn,
                region,
                partition,
                context: &self.context,
            },
        ))
    }

    /// Encrypts `payload` (a data key or a share) with KMS.
    pub fn encrypt(&self, env: &dyn Env, payload: &[u8]) -> Result<String> {
        let (creds, target) = self.credentials(env)?;
        aws::kms_encrypt(env, &target, &creds, payload).map_err(|e| self.fail(e))
    }

    /// Decrypts an `enc` blob with KMS.
    pub fn decrypt(&self, env: &dyn Env, enc: &str) -> Result<Zeroizing<Vec<u8>>> {
        use base64::Engine as _;
        if base64::engine::general_purpose::STANDARD
            .decode(enc.trim())
            .is_err()
        {
            return Err(self.fail("the encrypted data key is not base64".into()));
        }
        let (creds, target) = self.credentials(env)?;
        aws::kms_decrypt(env, &target, &creds, enc.trim()).map_err(|e| self.fail(e))
    }
}

/// sops' `k1:v1,k2:v2` form of a context, sorted by key.
pub(crate) fn context_to_string(context: &BTreeMap<String, String>) -> String {
    context
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `--encryption-context k1:v1,k2:v2`. sops ignores a malformed
/// context with a warning and encrypts without one; nsec refuses it, since
/// a context that is silently dropped is not the one the user meant.
pub fn parse_context(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if text.is_empty() {
        return Ok(out);
    }
    for pair in text.split(',') {
        let parts: Vec<&str> = pair.split(':').collect();
        let [k, v] = parts.as_slice() else {
            return Err(Error::InvalidOption(format!(
                "invalid encryption context `{pair}`: expected key:value pairs separated by commas"
            )));
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// One KMS entry of a file's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsEntry {
    /// The key.
    pub key: KmsKey,
    /// When the data key was encrypted (RFC 3339, UTC).
    pub created_at: String,
    /// The base64 ciphertext blob.
    pub enc: String,
}

impl KmsEntry {
    /// The metadata map, with sops' fields in its order (that of its
    /// `kmskey` struct: `arn`, `role` when set, `context` when set,
    /// `created_at`, `enc`, `aws_profile` always).
    pub fn to_value(&self) -> Value {
        let s = |v: &str| Value::Str(v.to_string());
        let mut items = vec![Item::Entry("arn".into(), s(&self.key.arn))];
        if !self.key.role.is_empty() {
            items.push(Item::Entry("role".into(), s(&self.key.role)));
        }
        if !self.key.context.is_empty() {
            let ctx = Map {
                items: self
                    .key
                    .context
                    .iter()
                    .map(|(k, v)| Item::Entry(k.clone(), s(v)))
                    .collect(),
            };
            items.push(Item::Entry("context".into(), Value::Map(ctx)));
        }
        items.push(Item::Entry("created_at".into(), s(&self.created_at)));
        items.push(Item::Entry("enc".into(), s(&self.enc)));
        items.push(Item::Entry("aws_profile".into(), s(&self.key.aws_profile)));
        Value::Map(Map { items })
    }

    /// Reads the entries of a `kms:` list.
    pub fn list_from_value(v: &Value) -> Result<Vec<KmsEntry>> {
        let bad = |m: &str| Error::InvalidMetadata(format!("kms {m}"));
        let items = match v {
            Value::List(items) => items,
            Value::Null => return Ok(Vec::new()),
            _ => return Err(bad("must be a list of {arn, enc, …}")),
        };
        Value::list_values(items)
            .map(|item| {
                let Value::Map(m) = item else {
                    return Err(bad("entry is not a map"));
                };
                let text = |name| crate::keys::pgp::text(m, name);
                let context = match m.get("context") {
                    None | Some(Value::Null) => BTreeMap::new(),
                    Some(Value::Map(c)) => c
                        .entries()
                        .map(|(k, v)| match v {
                            Value::Str(s) => Ok((k.to_string(), s.clone())),
                            _ => Err(bad("context values must be strings")),
                        })
                        .collect::<Result<_>>()?,
                    Some(_) => return Err(bad("context must be a map")),
                };
                Ok(KmsEntry {
                    key: KmsKey {
                        arn: text("arn"),
                        role: text("role"),
                        context,
                        aws_profile: text("aws_profile"),
                    },
                    created_at: text("created_at"),
                    enc: text("enc"),
                })
            })
            .collect()
    }
}

/// The process environment, for callers outside this module.
pub(crate) fn process_env() -> &'static dyn Env {
    &aws::ProcessEnv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_sops_parses_them() {
        let ctx = parse_context("b:2,a:1").unwrap();
        let k = KmsKey::parse(
            "arn:aws:kms:eu-west-1:111122223333:key/abc+arn:aws:iam::111122223333:role/r",
            ctx.clone(),
            "",
        );
        assert_eq!(k.arn, "arn:aws:kms:eu-west-1:111122223333:key/abc");
        assert_eq!(k.role, "arn:aws:iam::111122223333:role/r");
        assert_eq!(k.region(), Some(("eu-west-1", "aws")));
        assert_eq!(
            k.name(),
            "arn:aws:kms:eu-west-1:111122223333:key/abc+arn:aws:iam::111122223333:role/r|a:1,b:2"
        );
        assert!(parse_context("a:1:2").is_err());
        assert!(parse_context("a").is_err());
        assert_eq!(
            KmsKey::parse("arn:aws-cn:kms:cn-north-1:1:alias/x", ctx, "").region(),
            Some(("cn-north-1", "aws-cn"))
        );
        for bad in [
            "arn:aws:kms:eu-west-1:abc:key/x",
            "arn:gcp:kms:r:1:key/x",
            "key/x",
        ] {
            assert_eq!(KmsKey::parse(bad, BTreeMap::new(), "").region(), None);
        }
        let entry = KmsEntry {
            key: k,
            created_at: "2026-01-01T00:00:00Z".into(),
            enc: "AQID".into(),
        };
        assert_eq!(
            KmsEntry::list_from_value(&Value::List(vec![entry.to_value()])).unwrap(),
            [entry]
        );
    }
}
