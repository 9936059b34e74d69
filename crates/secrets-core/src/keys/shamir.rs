//! Shamir secret sharing over GF(2^8), compatible with sops.
//!
//! sops splits the data key between key groups with the HashiCorp Vault
//! scheme: every secret byte gets its own random polynomial over GF(2^8)
//! (reduction polynomial x⁸+x⁴+x³+x+1, 0x11B, the AES field) whose constant
//! term is that byte. A share is the polynomial values at one x-coordinate,
//! one byte per secret byte, **followed by the x-coordinate as the last byte**
//! (so a share of a 32-byte key is 33 bytes). sops writes x = 1, 2, 3 …, but
//! combining reads x from each share, so any distinct x works.
//!
//! The field arithmetic here is constant-time: multiplication is a bitwise
//! shift-and-add with masks instead of branches, and inversion is
//! exponentiation (a²⁵⁴), so no secret byte ever indexes a table or picks a
//! branch.

use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Result};

/// Multiplies two field elements (carry-less multiply reduced by 0x11B).
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        // `mask` is 0xFF when the low bit of `b` is set, else 0x00.
        let mask = 0u8.wrapping_sub(b & 1);
        product ^= a & mask;
        // Multiply `a` by x; if it overflowed x⁸, reduce by 0x11B (0x1B once
        // the x⁸ bit has been shifted out).
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1B & carry);
        b >>= 1;
    }
    product
}

/// The multiplicative inverse, a⁻¹ = a²⁵⁴ (and 0 for 0).
fn inv(a: u8) -> u8 {
    // 254 = 0b1111_1110: a fixed square-and-multiply chain, the same
    // operations for every input.
    let a2 = mul(a, a);
    let a3 = mul(a2, a);
    let a6 = mul(a3, a3);
    let a7 = mul(a6, a);
    let a14 = mul(a7, a7);
    let a15 = mul(a14, a);
    let a30 = mul(a15, a15);
    let a31 = mul(a30, a);
    let a62 = mul(a31, a31);
    let a63 = mul(a62, a);
    let a126 = mul(a63, a63);
    let a127 = mul(a126, a);
    mul(a127, a127)
}

/// Divides `a` by `b` (callers ensure `b` is not zero).
fn div(a: u8, b: u8) -> u8 {
    mul(a, inv(b))
}

/// Evaluates the polynomial with the given coefficients (constant term first)
/// at `x`, by Horner's rule.
fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0u8, |acc, &c| mul(acc, x) ^ c)
}

/// Splits `secret` into `parts` shares, any `threshold` of which recover it.
///
/// Share *i* (0-based) is the polynomial values at x = *i*+1 followed by that
/// x as the last byte, exactly as sops 3.11 writes them. Errors when
/// `threshold` is below 2, `parts` is below `threshold`, or the secret is
/// empty.
pub fn split(secret: &[u8], parts: u8, threshold: u8) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if threshold < 2 {
        return Err(Error::KeyWrap(format!(
            "shamir threshold must be at least 2, got {threshold}"
        )));
    }
    if parts < threshold {
        return Err(Error::KeyWrap(format!(
            "shamir threshold {threshold} is larger than the number of parts {parts}"
        )));
    }
    if secret.is_empty() {
        return Err(Error::KeyWrap(
            "cannot split an empty secret with shamir".to_string(),
        ));
    }

    let mut shares: Vec<Zeroizing<Vec<u8>>> = (1..=parts)
        .map(|x| {
            let mut share = Zeroizing::new(vec![0u8; secret.len() + 1]);
            share[secret.len()] = x;
            share
        })
        .collect();

    let degree = usize::from(threshold) - 1;
    let mut coefficients = Zeroizing::new(vec![0u8; degree + 1]);
    for (index, &byte) in secret.iter().enumerate() {
        coefficients[0] = byte;
        getrandom::getrandom(&mut coefficients[1..])
            .map_err(|e| Error::KeyWrap(format!("the OS random generator failed: {e}")))?;
        for share in shares.iter_mut() {
            let x = share[secret.len()];
            share[index] = evaluate(&coefficients, x);
        }
    }
    coefficients.zeroize();
    Ok(shares)
}

/// Recovers the secret from shares made by [`split`] (or by sops).
///
/// Each share's last byte is its x-coordinate. Errors on fewer than two
/// shares, shares of different or too short lengths, and duplicate
/// x-coordinates. With fewer shares than the threshold the result is simply
/// a wrong secret (the scheme cannot tell).
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
    if shares.len() < 2 {
        return Err(Error::KeyWrap(format!(
            "less than two parts cannot be used to reconstruct the secret (got {})",
            shares.len()
        )));
    }
    let share_len = shares[0].len();
    if share_len < 2 {
        return Err(Error::KeyWrap(
            "shamir parts must be at least two bytes".to_string(),
        ));
    }
    if shares.iter().any(|s| s.len() != share_len) {
        return Err(Error::KeyWrap(
            "all shamir parts must be the same length".to_string(),
        ));
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[share_len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(Error::KeyWrap(format!(
                "duplicate shamir part x-coordinate {x}"
            )));
        }
    }

    // Lagrange basis values at 0 depend only on the (public) x-coordinates:
    // l_j(0) = Π_{m≠j} x_m / (x_j − x_m), and subtraction is XOR.
    let basis: Vec<u8> = (0..xs.len())
        .map(|j| {
            (0..xs.len())
                .filter(|&m| m != j)
                .fold(1u8, |acc, m| mul(acc, div(xs[m], xs[j] ^ xs[m])))
        })
        .collect();

    let mut secret = Zeroizing::new(vec![0u8; share_len - 1]);
    for (index, out) in secret.iter_mut().enumerate() {
        *out = shares
            .iter()
            .zip(&basis)
            .fold(0u8, |acc, (share, &l)| acc ^ mul(share[index], l));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Multiplication by the textbook method, for checking `mul`.
    fn slow_mul(a: u8, b: u8) -> u8 {
        let mut p: u16 = 0;
        for i in 0..8 {
            if b & (1 << i) != 0 {
                p ^= u16::from(a) << i;
            }
        }
        for i in (8..16).rev() {
            if p & (1 << i) != 0 {
                p ^= 0x11B << (i - 8);
            }
        }
        p as u8
    }

    #[test]
    fn field_arithmetic() {
        // FIPS-197 §4.2 example: {57} • {83} = {c1}.
        assert_eq!(mul(0x57, 0x83), 0xC1);
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), slow_mul(a, b));
            }
            if a != 0 {
                assert_eq!(mul(a, inv(a)), 1, "inverse of {a}");
            }
        }
        assert_eq!(inv(0), 0);
    }

    #[test]
    fn split_layout_and_errors() {
        let secret = [7u8; 32];
        let shares = split(&secret, 3, 2).unwrap();
        assert_eq!(shares.len(), 3);
        for (i, s) in shares.iter().enumerate() {
            assert_eq!(s.len(), 33);
            assert_eq!(s[32], i as u8 + 1);
        }
        assert!(split(&secret, 3, 1).is_err());
        assert!(split(&secret, 2, 3).is_err());
        assert!(split(&[], 3, 2).is_err());
    }

    #[test]
    fn combine_errors() {
        let shares = split(b"secret", 3, 2).unwrap();
        assert!(combine(&[&shares[0]]).is_err());
        assert!(combine(&[&shares[0], &shares[0]]).is_err());
        assert!(combine(&[&shares[0], &shares[1][..5]]).is_err());
        assert!(combine(&[&[1u8][..], &[2u8][..]]).is_err());
        assert_eq!(&combine(&[&shares[2], &shares[0]]).unwrap()[..], b"secret");
    }

    /// Handmade shares with a known polynomial: secret 0x42, f(x) = 0x42 + 0x17·x.
    #[test]
    fn combine_known_polynomial() {
        let f = |x: u8| 0x42 ^ mul(0x17, x);
        let a = [f(7), 7];
        let b = [f(200), 200];
        assert_eq!(&combine(&[&a, &b]).unwrap()[..], &[0x42]);
    }

    proptest! {
        #[test]
        fn split_combine_round_trip(
            secret in proptest::collection::vec(any::<u8>(), 1..40),
            parts in 2u8..=12,
            threshold_seed in any::<u8>(),
            subset_seed in any::<u64>(),
        ) {
            let threshold = 2 + threshold_seed % (parts - 1);
            let shares = split(&secret, parts, threshold).unwrap();
            // Pick a pseudo-random subset of at least `threshold` shares.
            let mut order: Vec<usize> = (0..usize::from(parts)).collect();
            let mut seed = subset_seed;
            for i in (1..order.len()).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let take = usize::from(threshold) + (subset_seed as usize % (usize::from(parts - threshold) + 1));
            let chosen: Vec<&[u8]> = order[..take].iter().map(|&i| &shares[i][..]).collect();
            prop_assert_eq!(&combine(&chosen).unwrap()[..], &secret[..]);
        }
    }
}
