//! RFC 3339 timestamps ↔ Unix milliseconds, without a date library (no IO, no allocation).

/// Parses an RFC 3339 / ISO 8601 date-time such as `2026-11-23T16:41:24.123Z` or
/// `2026-11-23T18:41:24+02:00` into milliseconds since the Unix epoch.
///
/// Fractions beyond milliseconds are truncated. Returns `None` for anything else, including
/// impossible dates such as February 30th.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // 60 allows a leap second, which is folded into the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = digits(&b[i + 1..i + 3])?;
            let m = digits(&b[i + 4..i + 6])?;
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` into `out` and returns it as text.
pub fn format_rfc3339_ms(ms: i64, out: &mut [u8; 24]) -> &str {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let fields = [
        (0, 4, y),
        (5, 2, m),
        (8, 2, d),
        (11, 2, rem / 3600),
        (14, 2, rem % 3600 / 60),
        (17, 2, rem % 60),
        (20, 3, millis),
    ];
    *out = *b"0000-00-00T00:00:00.000Z";
    for (start, width, mut value) in fields {
        for pos in (start..start + width).rev() {
            out[pos] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    core::str::from_utf8(out).unwrap_or("")
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (public-domain algorithms).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_instants() {
        // Reference values: `date -u -d '2026-11-23T16:41:24Z' +%s` = 1795452084.
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-23T16:41:24Z"),
            Some(1_795_452_084_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-23T18:41:24.5+02:00"),
            Some(1_795_452_084_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T00:00:00.123456Z"),
            Some(951_782_400_123)
        );
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59.999Z"), Some(-1));
    }

    #[test]
    fn rejects_malformed_and_impossible() {
        for bad in [
            "",
            "2026-11-23",
            "2026-11-23T16:41:24",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T16:41:24.Z",
            "2026-11-23T16:41:24+0200",
            "2026-11-23T16:41:24Zjunk",
            "yesterday at noon, roughly",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn format_round_trips() {
        let mut buf = [0u8; 24];
        for ms in [
            0,
            1_795_452_084_123,
            951_782_400_123,
            -1,
            253_402_300_799_999,
        ] {
            let text = format_rfc3339_ms(ms, &mut buf);
            assert_eq!(parse_rfc3339_ms(text), Some(ms), "{text}");
        }
        assert_eq!(
            format_rfc3339_ms(1_795_452_084_123, &mut buf),
            "2026-11-23T16:41:24.123Z"
        );
    }
}
