//! Exact decimal numbers for `numeric`: a 128-bit mantissa and a display
//! scale (digits after the point), with PostgreSQL's rules for the scale
//! of each result and its rounding (half away from zero). 38 significant
//! digits are enough for money and counts; past them an operation fails
//! with 22003 rather than losing digits.

use crate::store::{DbError, SqlState};
use std::cmp::Ordering;
use std::fmt;

/// The largest display scale kept (PostgreSQL allows 1000; a 128-bit
/// mantissa holds 38 digits).
const MAX_SCALE: u32 = 30;

/// `mantissa / 10^scale`, with `scale` the display scale PostgreSQL keeps
/// (so `1.50` stays `1.50`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

fn overflow() -> DbError {
    DbError::new(
        SqlState::NumericValueOutOfRange,
        "value overflows numeric format",
    )
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// `v / 10^n` rounded half away from zero.
fn div_round(v: i128, n: u32) -> i128 {
    if n == 0 {
        return v;
    }
    let Some(d) = pow10(n) else { return 0 };
    let (q, r) = (v / d, v % d);
    if r.abs() * 2 >= d {
        q + v.signum()
    } else {
        q
    }
}

impl Decimal {
    /// An integer.
    pub fn from_int(v: i64) -> Decimal {
        Decimal {
            mantissa: v.into(),
            scale: 0,
        }
    }

    /// `mantissa / 10^scale`.
    pub fn new(mantissa: i128, scale: u32) -> Decimal {
        Decimal { mantissa, scale }
    }

    /// The display scale.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        self.mantissa.signum() as i32
    }

    /// The same value at display scale `scale` (rounding half away from
    /// zero when it shrinks).
    pub fn rescale(&self, scale: u32) -> Result<Decimal, DbError> {
        let scale = scale.min(MAX_SCALE);
        let mantissa = match scale.cmp(&self.scale) {
            Ordering::Equal => self.mantissa,
            Ordering::Greater => pow10(scale - self.scale)
                .and_then(|p| self.mantissa.checked_mul(p))
                .ok_or_else(overflow)?,
            Ordering::Less => div_round(self.mantissa, self.scale - scale),
        };
        Ok(Decimal { mantissa, scale })
    }

    /// `round(v, digits)`; negative `digits` round left of the point.
    pub fn round(&self, digits: i32) -> Result<Decimal, DbError> {
        if digits >= 0 {
            return self.rescale(digits as u32);
        }
        let whole = self.rescale(0)?;
        let n = digits.unsigned_abs();
        let p = pow10(n).ok_or_else(overflow)?;
        Ok(Decimal::new(div_round(whole.mantissa, n) * p, 0))
    }

    /// `trunc(v, digits)` for `digits >= 0`.
    pub fn trunc(&self, digits: u32) -> Decimal {
        if digits >= self.scale {
            return *self;
        }
        let d = pow10(self.scale - digits).unwrap_or(i128::MAX);
        Decimal::new(self.mantissa / d, digits)
    }

    /// `ceil` (`ceiling`): the least integer not below.
    pub fn ceil(&self) -> Decimal {
        let t = self.trunc(0);
        if t.rescale(self.scale).ok() != Some(*self) && self.mantissa > 0 {
            Decimal::new(t.mantissa + 1, 0)
        } else {
            t
        }
    }

    /// `floor`: the greatest integer not above.
    pub fn floor(&self) -> Decimal {
        let t = self.trunc(0);
        if t.rescale(self.scale).ok() != Some(*self) && self.mantissa < 0 {
            Decimal::new(t.mantissa - 1, 0)
        } else {
            t
        }
    }

    /// The value as an integer, if it is one (any scale).
    pub fn to_i64(&self) -> Option<i64> {
        let d = pow10(self.scale)?;
        if self.mantissa % d != 0 {
            return None;
        }
        i64::try_from(self.mantissa / d).ok()
    }

    /// The value rounded to an integer (half away from zero), as
    /// PostgreSQL casts numeric to an integer type.
    pub fn round_i64(&self) -> Result<i64, DbError> {
        i64::try_from(div_round(self.mantissa, self.scale))
            .map_err(|_| DbError::new(SqlState::NumericValueOutOfRange, "bigint out of range"))
    }

    /// The nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }

    /// The decimal of `f` with up to 15 significant digits (as PostgreSQL
    /// casts float8 to numeric).
    pub fn from_f64(f: f64) -> Result<Decimal, DbError> {
        if !f.is_finite() {
            return Err(DbError::new(
                SqlState::FeatureNotSupported,
                "NaN and infinite numerics are not supported by the simulated SQL engine",
            ));
        }
        let text = format!("{:.*e}", 14, f);
        let parsed = Decimal::parse(&text).ok_or_else(overflow)?;
        // Drop the trailing zeros the 15-digit form adds.
        let mut d = parsed;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d = Decimal::new(d.mantissa / 10, d.scale - 1);
        }
        Ok(d)
    }

    /// Parses `[+-]digits[.digits][e[+-]digits]`.
    pub fn parse(text: &str) -> Option<Decimal> {
        let t = text.trim();
        let (body, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
            None => (t, 0),
        };
        let (neg, body) = match body.as_bytes().first()? {
            b'-' => (true, &body[1..]),
            b'+' => (false, &body[1..]),
            _ => (false, body),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa.checked_mul(10)?.checked_add((b - b'0') as i128)?;
        }
        let mut scale = frac.len() as i32 - exp;
        if scale < 0 {
            mantissa = mantissa.checked_mul(pow10(scale.unsigned_abs())?)?;
            scale = 0;
        }
        let mut d = Decimal::new(if neg { -mantissa } else { mantissa }, scale as u32);
        if d.scale > MAX_SCALE {
            d = d.rescale(MAX_SCALE).ok()?;
        }
        Some(d)
    }

    fn aligned(&self, other: &Decimal) -> Result<(i128, i128, u32), DbError> {
        let scale = self.scale.max(other.scale);
        Ok((
            self.rescale(scale)?.mantissa,
            other.rescale(scale)?.mantissa,
            scale,
        ))
    }

    /// `self + other` (scale: the larger of the two).
    pub fn add(&self, other: &Decimal) -> Result<Decimal, DbError> {
        let (a, b, scale) = self.aligned(other)?;
        Ok(Decimal::new(a.checked_add(b).ok_or_else(overflow)?, scale))
    }

    /// `self - other`.
    pub fn sub(&self, other: &Decimal) -> Result<Decimal, DbError> {
        let (a, b, scale) = self.aligned(other)?;
        Ok(Decimal::new(a.checked_sub(b).ok_or_else(overflow)?, scale))
    }

    /// `self * other` (scale: the sum of the two).
    pub fn mul(&self, other: &Decimal) -> Result<Decimal, DbError> {
        let m = self
            .mantissa
            .checked_mul(other.mantissa)
            .ok_or_else(overflow)?;
        let d = Decimal::new(m, self.scale + other.scale);
        if d.scale > MAX_SCALE {
            d.rescale(MAX_SCALE)
        } else {
            Ok(d)
        }
    }

    /// The weight (in PostgreSQL's base-10000 digits) and first base-10000
    /// digit of a nonzero value, as its `select_div_scale` reads them.
    fn weight_and_first_digit(&self) -> (i32, i128) {
        if self.mantissa == 0 {
            return (0, 0);
        }
        let digits = self.mantissa.unsigned_abs().to_string();
        // Position of the most significant decimal digit: 10^e.
        let e = digits.len() as i32 - 1 - self.scale as i32;
        let weight = e.div_euclid(4);
        // The base-10000 digit holding 10^e: the decimal digits from
        // 10^(4*weight+3) down to 10^(4*weight).
        let lead = (e - 4 * weight + 1) as usize;
        let first: i128 = digits[..lead.min(digits.len())].parse().unwrap_or(0);
        let first = first * 10i128.pow((lead.saturating_sub(digits.len())) as u32);
        (weight, first)
    }

    /// `self / other` at PostgreSQL's division scale: at least 16
    /// significant digits, and no less than either input's scale.
    pub fn div(&self, other: &Decimal) -> Result<Decimal, DbError> {
        if other.is_zero() {
            return Err(DbError::new(SqlState::DivisionByZero, "division by zero"));
        }
        let (w1, f1) = self.weight_and_first_digit();
        let (w2, f2) = other.weight_and_first_digit();
        let mut qweight = w1 - w2;
        if f1 <= f2 {
            qweight -= 1;
        }
        let rscale = (16 - qweight * 4)
            .max(self.scale as i32)
            .max(other.scale as i32)
            .clamp(0, MAX_SCALE as i32) as u32;
        self.div_at(other, rscale)
    }

    /// `self / other` rounded to `scale` digits.
    pub fn div_at(&self, other: &Decimal, scale: u32) -> Result<Decimal, DbError> {
        if other.is_zero() {
            return Err(DbError::new(SqlState::DivisionByZero, "division by zero"));
        }
        // q = a/10^sa / (b/10^sb) = a * 10^(sb - sa) / b; one extra digit
        // for rounding.
        let shift = scale as i64 + 1 + other.scale as i64 - self.scale as i64;
        let (mut num, mut den) = (self.mantissa, other.mantissa);
        if shift >= 0 {
            num = num
                .checked_mul(pow10(shift as u32).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
        } else {
            den = den
                .checked_mul(pow10((-shift) as u32).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
        }
        let q = num / den;
        Ok(Decimal::new(div_round(q, 1), scale))
    }

    /// `self % other` (sign of the dividend; scale: the larger).
    pub fn rem(&self, other: &Decimal) -> Result<Decimal, DbError> {
        if other.is_zero() {
            return Err(DbError::new(SqlState::DivisionByZero, "division by zero"));
        }
        let (a, b, scale) = self.aligned(other)?;
        Ok(Decimal::new(a % b, scale))
    }

    /// `-self`.
    pub fn neg(&self) -> Decimal {
        Decimal::new(-self.mantissa, self.scale)
    }

    /// `abs(self)`.
    pub fn abs(&self) -> Decimal {
        Decimal::new(self.mantissa.abs(), self.scale)
    }

    /// Compares by value (`1.0 = 1.00`).
    pub fn cmp_value(&self, other: &Decimal) -> Ordering {
        match self.aligned(other) {
            Ok((a, b, _)) => a.cmp(&b),
            Err(_) => self.to_f64().total_cmp(&other.to_f64()),
        }
    }

    /// The digits of `numeric(precision, scale)`: rounded to `scale`, and
    /// 22003 when more than `precision - scale` digits are left of the
    /// point.
    pub fn fit(&self, precision: u32, scale: u32) -> Result<Decimal, DbError> {
        let d = self.rescale(scale)?;
        let limit = pow10(precision).ok_or_else(overflow)?;
        if d.mantissa.abs() >= limit {
            return Err(DbError::new(
                SqlState::NumericValueOutOfRange,
                format!(
                    "numeric field overflow: A field with precision {precision}, scale {scale} must round to an absolute value less than 10^{}.",
                    precision - scale
                ),
            ));
        }
        Ok(d)
    }

    /// An order-preserving, self-delimiting key text of the value (equal
    /// values, whatever their scale, give equal keys).
    pub fn key(&self) -> String {
        if self.mantissa == 0 {
            return "1".into();
        }
        let mut digits = self.mantissa.unsigned_abs().to_string();
        // 10^exp is the leading digit's place.
        let exp = digits.len() as i64 - 1 - self.scale as i64;
        while digits.ends_with('0') {
            digits.pop();
        }
        if self.mantissa > 0 {
            // Larger exponent, larger value; then digits; '!' ends the
            // digits below every digit (1.2 < 1.25).
            format!("2{:04x}{digits}!", (exp + 0x8000) as u16)
        } else {
            // Negatives: everything inverted; '~' ends the digits above
            // every complemented digit (-1.2 > -1.25).
            let inv: String = digits
                .bytes()
                .map(|b| (b'9' - (b - b'0')) as char)
                .collect();
            format!("0{:04x}{inv}~", (0x8000 - exp) as u16)
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn arithmetic_keeps_postgres_scales() {
        // Each expected text is PostgreSQL 15's output.
        assert_eq!(d("1.50").add(&d("2.5")).unwrap().to_string(), "4.00");
        assert_eq!(d("1.5").mul(&d("2.25")).unwrap().to_string(), "3.375");
        assert_eq!(
            d("10").div(&d("4")).unwrap().to_string(),
            "2.5000000000000000"
        );
        assert_eq!(
            d("1").div(&d("3")).unwrap().to_string(),
            "0.33333333333333333333"
        );
        assert_eq!(
            d("2").div(&d("3")).unwrap().to_string(),
            "0.66666666666666666667"
        );
        assert_eq!(
            d("100").div(&d("7")).unwrap().to_string(),
            "14.2857142857142857"
        );
        assert_eq!(
            d("12345.678").div(&d("0.1")).unwrap().to_string(),
            "123456.780000000000"
        );
        assert_eq!(d("-7.5").rem(&d("2")).unwrap().to_string(), "-1.5");
        assert_eq!(d("2.5").round(0).unwrap().to_string(), "3");
        assert_eq!(d("-2.5").round(0).unwrap().to_string(), "-3");
        assert_eq!(d("1234.5678").round(-2).unwrap().to_string(), "1200");
        assert_eq!(d("-1.2").ceil().to_string(), "-1");
        assert_eq!(d("-1.2").floor().to_string(), "-2");
        assert_eq!(d("1e3").to_string(), "1000");
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("0.001").to_string(), "0.001");
        assert!(d("1").div(&d("0")).is_err());
    }

    #[test]
    fn keys_sort_as_values_and_ignore_scale() {
        let vals = [
            "-100", "-1.25", "-1.2", "-0.5", "0", "0.001", "0.5", "1.2", "1.25", "99", "100",
        ];
        for w in vals.windows(2) {
            assert!(d(w[0]).key() < d(w[1]).key(), "{w:?}");
        }
        assert_eq!(d("1.0").key(), d("1.000").key());
        assert_eq!(d("1.0").cmp_value(&d("1")), Ordering::Equal);
    }

    #[test]
    fn typmod_rounds_and_overflows() {
        assert_eq!(d("3.14159").fit(5, 2).unwrap().to_string(), "3.14");
        assert_eq!(
            d("999.995").fit(5, 2).unwrap_err().code,
            SqlState::NumericValueOutOfRange
        );
    }
}
