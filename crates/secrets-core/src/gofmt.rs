//! Go's number formatting, which sops' output depends on.
//!
//! sops serialises floats with Go's `strconv.FormatFloat`: `'f'` with the
//! shortest precision for encryption and the MAC, `'g'` in YAML output, the
//! `encoding/json` rule in JSON output and `%v`-style `'G'` in dotenv/INI
//! output. Rust's shortest round-trip digits are the same digits Go picks, so
//! only the layout differs.

/// The shortest round-trip decimal digits of a finite, non-zero `v` and the
/// decimal exponent `e` such that `v = 0.d1d2d3… × 10^(e)` — i.e. Go's
/// `digs.d` and `digs.dp`.
fn shortest_digits(v: f64) -> (String, i32) {
    // `{:e}` gives the shortest round-trip digits as `d.ddde±x`.
    let s = format!("{:e}", v.abs());
    let (mantissa, exp) = s.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    (digits, exp + 1)
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go `strconv.FormatFloat(v, 'f', -1, 64)`: never an exponent, `-0` for
/// negative zero, `+Inf`/`-Inf`/`NaN`.
pub fn format_f(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    // Rust's `Display` for f64 is the shortest round-trip form without an
    // exponent, which is exactly Go's 'f' with precision -1.
    format!("{v}")
}

/// Go `%e` layout of shortest digits: `d.ddde+XX` (at least two exponent digits).
fn layout_e(negative: bool, digits: &str, dp: i32, upper: bool) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = dp - 1;
    out.push(if exp < 0 { '-' } else { '+' });
    let abs = exp.unsigned_abs();
    if abs < 10 {
        out.push('0');
    }
    out.push_str(&abs.to_string());
    out
}

/// Go `strconv.FormatFloat(v, 'g' or 'G', -1, 64)`.
pub fn format_g(v: f64, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let (digits, dp) = shortest_digits(v);
    let exp = dp - 1;
    // With the shortest precision Go uses 6 as the %e threshold.
    if !(-4..6).contains(&exp) {
        layout_e(v < 0.0, &digits, dp, upper)
    } else {
        format_f(v)
    }
}

/// How `go-yaml` v3 writes a float64: `'g'`, with `.inf`, `-.inf`, `.nan`.
pub fn format_yaml_float(v: f64) -> String {
    if v.is_nan() {
        ".nan".to_string()
    } else if v == f64::INFINITY {
        ".inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-.inf".to_string()
    } else {
        format_g(v, false)
    }
}

/// How Go's `encoding/json` writes a float64: plain digits, or an exponent
/// below 1e-6 and from 1e21 on, with `e-07` shortened to `e-7`.
/// Returns `None` for NaN and infinities, which JSON cannot hold.
pub fn format_json_float(v: f64) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, dp) = shortest_digits(v);
        let mut s = layout_e(v < 0.0, &digits, dp, false);
        // Go shortens a two-digit negative exponent with a leading zero.
        let n = s.len();
        if n >= 4 && &s[n - 4..n - 1] == "e-0" {
            s.remove(n - 2);
        }
        Some(s)
    } else {
        Some(format_f(v))
    }
}

/// How sops' dotenv and INI stores print a float (`%v`-like `'G'`, with
/// `.0` added to integral values that print without an exponent).
pub fn format_flat_float(v: f64) -> String {
    let s = format_g(v, true);
    if v.is_finite() && !s.contains(['.', 'E']) {
        format!("{s}.0")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_matches_go() {
        assert_eq!(format_f(1e10), "10000000000");
        assert_eq!(format_f(1e-7), "0.0000001");
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(3.0), "3");
        assert_eq!(format_f(-0.0), "-0");
        assert_eq!(format_f(6.02e23), "602000000000000000000000");
        assert_eq!(format_f(f64::INFINITY), "+Inf");
        assert_eq!(format_f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_f(f64::NAN), "NaN");
        assert_eq!(format_f(12345678901234567890.0), "12345678901234567000");
    }

    #[test]
    fn g_matches_go() {
        assert_eq!(format_g(1e10, false), "1e+10");
        assert_eq!(format_g(2.75, false), "2.75");
        assert_eq!(format_g(0.1, false), "0.1");
        assert_eq!(format_g(100000.0, false), "100000");
        assert_eq!(format_g(1e6, false), "1e+06");
        assert_eq!(format_g(1234567.0, false), "1.234567e+06");
        assert_eq!(format_g(0.0001, false), "0.0001");
        assert_eq!(format_g(0.00001, false), "1e-05");
        assert_eq!(format_g(-0.0, false), "-0");
        assert_eq!(format_g(1e10, true), "1E+10");
        assert_eq!(format_g(1e100, false), "1e+100");
    }

    #[test]
    fn yaml_and_json_and_flat() {
        assert_eq!(format_yaml_float(f64::NEG_INFINITY), "-.inf");
        assert_eq!(format_json_float(1e21).unwrap(), "1e+21");
        assert_eq!(format_json_float(1e-7).unwrap(), "1e-7");
        assert_eq!(
            format_json_float(12345678901234567890.0).unwrap(),
            "12345678901234567000"
        );
        assert_eq!(format_json_float(42.0).unwrap(), "42");
        assert_eq!(format_json_float(f64::NAN), None);
        assert_eq!(format_flat_float(5.0), "5.0");
        assert_eq!(format_flat_float(2.75), "2.75");
        assert_eq!(format_flat_float(1e10), "1E+10");
    }
}
