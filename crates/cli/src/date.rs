//! Today's UTC date without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DD` for today (UTC), or `RBAC_GATE_TODAY` if set (tests, reproducible runs).
pub fn today() -> Result<String, String> {
    if let Some(value) = std::env::var_os("RBAC_GATE_TODAY").filter(|v| !v.is_empty()) {
        let value = value
            .into_string()
            .map_err(|_| "RBAC_GATE_TODAY is not UTF-8".to_string())?;
        return if is_date(&value) {
            Ok(value)
        } else {
            Err(format!("RBAC_GATE_TODAY must be YYYY-MM-DD, got `{value}`"))
        };
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| "the system clock is before 1970".to_string())?;
    let days = i64::try_from(secs / 86_400).map_err(|_| "the system clock is out of range")?;
    let (y, m, d) = civil_from_days(days);
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn date_shape() {
        assert!(is_date("2025-01-31"));
        assert!(!is_date("2025-1-31"));
        assert!(!is_date("yesterday!"));
    }
}
